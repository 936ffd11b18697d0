// extractor_profile_test (being written)
#include <gtest/gtest.h>
