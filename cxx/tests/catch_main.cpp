// SPDX-License-Identifier: MIT
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
// The VM runner reads TAP (--reporter tap).
#include <catch2/catch_reporter_tap.hpp>
