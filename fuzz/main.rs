//! Property-based fuzz suites of the wire layer and the dispatcher.
