// extractor_values_test (being written)
#include <gtest/gtest.h>
