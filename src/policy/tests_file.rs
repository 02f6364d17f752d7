//! Policy test files (placeholder replaced below).
