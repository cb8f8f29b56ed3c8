//! The facade as a program embedding it sees it: a node's event stream under
//! load.

mod many_owned;
