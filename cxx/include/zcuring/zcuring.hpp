// SPDX-License-Identifier: MIT
// Everything of the zcuring C++ bindings. Each header also stands alone.
#pragma once

#include <zcuring/buffers.hpp>
#include <zcuring/compose.hpp>
#include <zcuring/errors.hpp>
#include <zcuring/features.hpp>
#include <zcuring/net.hpp>
#include <zcuring/ops.hpp>
#include <zcuring/receiver.hpp>
#include <zcuring/recv_buf.hpp>
#include <zcuring/recv_zc.hpp>
#include <zcuring/result.hpp>
#include <zcuring/ring.hpp>
#include <zcuring/send_zc.hpp>
#include <zcuring/task.hpp>
