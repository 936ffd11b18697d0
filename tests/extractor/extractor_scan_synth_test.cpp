// extractor_scan_synth_test (being written)
#include <gtest/gtest.h>
