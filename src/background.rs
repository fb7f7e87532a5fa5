//! Background threads: compaction, the writer's signing threads, a resolver's snapshot
//! watcher (which verifies a new snapshot). They must never slow the threads that answer.
//!
//! Each lowers its own priority at start ([`lower_this_thread`]) to the lowest normal one
//! (nice 19: a weight of 15 against nice 0's 1,024); threads they start inherit it.
//! (`SCHED_IDLE`, weight 3, was tried for all three: a resolver's closed-loop throughput while
//! compacting came out no better, 0.765× against 0.931× and 0.883× with nice 19, within this
//! VM's noise; so the simpler class stays.)

use thread_priority::{set_current_thread_priority, ThreadPriority};

/// Lowers the calling thread's priority (see the module doc); `what` names it in the warning
/// printed when the system refuses (not fatal: the work still gets done).
pub fn lower_this_thread(what: &str) {
    if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
        eprintln!("permitd: {what} runs at normal priority: {e:?}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lowered_thread_runs_at_nice_19() {
        std::thread::spawn(|| {
            super::lower_this_thread("a test thread");
            assert_eq!(nice_of_this_thread().as_deref(), Some("19"));
        })
        .join()
        .unwrap();
    }

    /// The calling thread's nice value, from the kernel's view of it (Linux `/proc`).
    fn nice_of_this_thread() -> Option<String> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
        // Fields after the command name (in parentheses, which may hold spaces) start at 3;
        // nice is field 19.
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split(' ').nth(19 - 3).map(str::to_owned)
    }
}
