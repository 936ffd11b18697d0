// extractor_fuzz_test (being written)
#include <gtest/gtest.h>
