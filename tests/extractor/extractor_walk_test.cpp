// extractor_walk_test (being written)
#include <gtest/gtest.h>
