//! The snapshot file. (Being written.)
