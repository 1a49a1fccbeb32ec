# SPDX-License-Identifier: MIT
# The README's C++ example must compile: take the first ```cpp block of
# README.md's "## C++ bindings" section and build it as a program against
# cxx/include, with the tests' warnings. Run by CTest (cxx_readme_example):
#   cmake -DREADME=... -DOUT=... -DCXX=... -DINCLUDES=a|b -DFLAGS=x|y -P readme-example.cmake
# (lists separated by |, which survive add_test unchanged)
foreach(v README OUT CXX INCLUDES FLAGS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "readme-example.cmake: -D${v}= missing")
  endif()
endforeach()

string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
string(REPLACE "|" ";" FLAGS "${FLAGS}")
file(READ "${README}" text)
string(FIND "${text}" "\n## C++ bindings\n" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} has no '## C++ bindings' section")
endif()
string(SUBSTRING "${text}" ${at} -1 section)
string(LENGTH "\n## C++ bindings\n" skip)
string(SUBSTRING "${section}" ${skip} -1 section)
# the section ends where the next one starts
string(FIND "${section}" "\n## " next)
if(NOT next EQUAL -1)
  string(SUBSTRING "${section}" 0 ${next} section)
endif()
string(FIND "${section}" "\n```cpp\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "the '## C++ bindings' section of ${README} has no ```cpp block")
endif()
math(EXPR start "${start} + 8")
string(SUBSTRING "${section}" ${start} -1 code)
string(FIND "${code}" "\n```" end)
if(end EQUAL -1)
  message(FATAL_ERROR "the ```cpp block of '## C++ bindings' in ${README} is not closed")
endif()
math(EXPR end "${end} + 1")
string(SUBSTRING "${code}" 0 ${end} code)

# "opens with a 20-line example": keep it short enough to read at once
string(REGEX MATCHALL "\n" newlines "${code}")
list(LENGTH newlines lines)
if(lines GREATER 35)
  message(FATAL_ERROR "the README's C++ example has ${lines} lines: keep it near 20")
endif()

file(MAKE_DIRECTORY "${OUT}")
file(WRITE "${OUT}/readme_example.cpp" "${code}")
set(inc)
foreach(d ${INCLUDES})
  list(APPEND inc "-I${d}")
endforeach()
execute_process(
  COMMAND "${CXX}" -std=c++20 ${FLAGS} ${inc} "${OUT}/readme_example.cpp"
          -o "${OUT}/readme_example" -luring
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the README's C++ example (${lines} lines, ${OUT}/readme_example.cpp) "
                      "does not compile")
endif()
message(STATUS "the README's C++ example (${lines} lines) compiles")
