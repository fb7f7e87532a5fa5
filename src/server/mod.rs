//! The resolver's HTTP interface. (Being written.)
