// extract_command_test (being written)
#include <gtest/gtest.h>
