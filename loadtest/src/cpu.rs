//! CPU time of processes on this machine, read from `/proc/<pid>/stat` (Linux).
//!
//! A run given `--server-pid` reads the servers' `utime + stime` (fields 14 and 15, all threads
//! of the process together) when the measurement starts and again when the last answer is in,
//! and reports the difference per request served: the server's CPU cost of one answer, the
//! number to compare across servers of one machine. The load tester's own CPU time over the
//! same window (`/proc/self/stat`) is reported too, so a run whose client saturated its core
//! says so, and so is the whole machine's busy time (`/proc/stat`): what is left after the
//! server and the load tester is other work on the machine, which a fair comparison wants at
//! zero.
//!
//! The kernel counts in clock ticks (`USER_HZ`, what `getconf CLK_TCK` prints: 100 on every
//! mainstream Linux); `--clk-tck` converts them to µs. One tick is 10 ms at 100 Hz, so a 10 s
//! window at one busy core is measured to about 0.1 %.

use std::path::Path;
use std::time::Duration;

/// `getconf CLK_TCK` on Linux (the kernel's `USER_HZ`, fixed at 100 for user space).
pub const CLK_TCK_DEFAULT: u64 = 100;
/// Most `--server-pid`s one run reads (an nginx master and its workers fit easily).
pub const PIDS_MAX: usize = 64;
/// Largest `/proc/<pid>/stat` read, in bytes (the real one is a few hundred).
const STAT_BYTES_MAX: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    #[error("reading {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: not a /proc/<pid>/stat line")]
    Format { path: String },
}

/// `utime + stime` in clock ticks from the text of a `/proc/<pid>/stat` file.
///
/// The second field (the command name) is in parentheses and may hold spaces and parentheses
/// itself, so fields are counted from the last `)`.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let after = &text[text.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first, so utime (14) is index 11, stime index 12.
    let mut fields = after.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// `utime + stime` of the process whose stat file is `path`, in ticks.
pub fn ticks_at(path: &Path) -> Result<u64, CpuError> {
    let name = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| CpuError::Io {
        path: name(),
        cause,
    })?;
    if text.len() > STAT_BYTES_MAX {
        return Err(CpuError::Format { path: name() });
    }
    parse_stat_ticks(&text).ok_or_else(|| CpuError::Format { path: name() })
}

/// Ticks of `pid`.
pub fn process_ticks(pid: u32) -> Result<u64, CpuError> {
    ticks_at(Path::new(&format!("/proc/{pid}/stat")))
}

/// Ticks of this process (the load tester), or `None` where there is no procfs.
pub fn own_ticks() -> Option<u64> {
    ticks_at(Path::new("/proc/self/stat")).ok()
}

/// Busy ticks of the whole machine, all cores added up, from the `cpu` line of `/proc/stat`
/// (user, nice, system, irq, softirq, steal; guest time is inside user already).
pub fn parse_machine_busy_ticks(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    if fields.len() < 4 {
        return None;
    }
    // user nice system idle iowait irq softirq steal
    Some(at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
}

/// Busy ticks of the machine, or `None` where there is no `/proc/stat`.
pub fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_busy_ticks(&text)
}

/// Sum of the ticks of all `pids`.
pub fn sum_ticks(pids: &[u32]) -> Result<u64, CpuError> {
    pids.iter().map(|&p| process_ticks(p)).sum()
}

/// µs in `ticks` at `clk_tck` ticks per second.
pub fn ticks_to_us(ticks: u64, clk_tck: u64) -> u64 {
    let per_s = u128::from(clk_tck.max(1));
    u64::try_from(u128::from(ticks) * 1_000_000 / per_s).unwrap_or(u64::MAX)
}

/// CPU time used by the servers and by the load tester over a measurement window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuUsage {
    /// The processes read (empty: no `--server-pid`).
    pub server_pids: Vec<u32>,
    pub server_us: u64,
    /// `None` where `/proc/self/stat` could not be read.
    pub client_us: Option<u64>,
    /// Busy time of all cores together; `None` where `/proc/stat` could not be read.
    pub machine_us: Option<u64>,
    pub clk_tck: u64,
    /// From the first reading to the second.
    pub window: Duration,
}

/// Readings taken when the measurement starts.
#[derive(Debug, Clone)]
pub struct CpuStart {
    server_ticks: u64,
    client_ticks: Option<u64>,
    machine_ticks: Option<u64>,
    at: std::time::Instant,
}

impl CpuStart {
    pub fn take(pids: &[u32]) -> Result<CpuStart, CpuError> {
        Ok(CpuStart {
            server_ticks: sum_ticks(pids)?,
            client_ticks: own_ticks(),
            machine_ticks: machine_busy_ticks(),
            at: std::time::Instant::now(),
        })
    }

    /// The second readings, and the usage since the first.
    pub fn finish(&self, pids: &[u32], clk_tck: u64) -> Result<CpuUsage, CpuError> {
        let server = sum_ticks(pids)?;
        let client = own_ticks();
        let machine = machine_busy_ticks();
        Ok(CpuUsage {
            server_pids: pids.to_vec(),
            server_us: ticks_to_us(server.saturating_sub(self.server_ticks), clk_tck),
            client_us: client
                .zip(self.client_ticks)
                .map(|(b, a)| ticks_to_us(b.saturating_sub(a), clk_tck)),
            machine_us: machine
                .zip(self.machine_ticks)
                .map(|(b, a)| ticks_to_us(b.saturating_sub(a), clk_tck)),
            clk_tck,
            window: self.at.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_plus_stime_past_odd_names() {
        // Proves fields 14 and 15 are found even when the command name holds spaces and ')'.
        let line = "4242 (nginx: worker) S 1 4242 4242 0 -1 4194624 1200 0 0 0 \
                    731 269 0 0 20 0 1 0 5555 12345678 900 18446744073709551615";
        assert_eq!(parse_stat_ticks(line), Some(1000));
        let odd = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1";
        assert_eq!(parse_stat_ticks(odd), Some(11));
        assert_eq!(parse_stat_ticks("7 (x) R 1 2"), None);
        assert_eq!(parse_stat_ticks("no parens at all"), None);
    }

    #[test]
    fn parses_the_machine_line_of_proc_stat() {
        // Proves busy = user + nice + system + irq + softirq + steal, idle and iowait left out.
        let text = "cpu  100 2 30 5000 7 1 4 9 0 0\ncpu0 50 1 15 2500 3 0 2 4 0 0\nintr 1 2\n";
        assert_eq!(parse_machine_busy_ticks(text), Some(146));
        assert_eq!(parse_machine_busy_ticks("cpu  1 2 3 4\n"), Some(6));
        assert_eq!(parse_machine_busy_ticks("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_machine_busy_ticks("cpu  1 x 3 4\n"), None);
    }

    #[test]
    fn converts_ticks_to_microseconds() {
        // Proves the tick conversion at the usual 100 Hz and at other rates, without overflow.
        assert_eq!(ticks_to_us(1, 100), 10_000);
        assert_eq!(ticks_to_us(250, 100), 2_500_000);
        assert_eq!(ticks_to_us(3, 1000), 3_000);
        assert_eq!(ticks_to_us(u64::MAX, 1), u64::MAX);
        assert_eq!(ticks_to_us(5, 0), 5_000_000, "a zero rate is taken as 1");
    }

    #[test]
    fn reads_this_process() {
        // Proves the reading works on this machine's procfs (skipped where there is none).
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let start = CpuStart::take(&[std::process::id()]).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let usage = start
            .finish(&[std::process::id()], CLK_TCK_DEFAULT)
            .unwrap();
        assert!(usage.client_us.is_some());
        assert_eq!(usage.server_pids, [std::process::id()]);
        assert!(matches!(process_ticks(u32::MAX), Err(CpuError::Io { .. })));
    }
}
