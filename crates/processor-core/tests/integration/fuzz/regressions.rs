//! Inputs the fuzzers found that once failed, each a test of the behaviour it fixed.
