//! `archive_backend::conformance` against real librqbit nodes, one test per
//! check.

archive_backend::conformance_tests!(super::Nodes::default());
