//! The `dunner` command line.
