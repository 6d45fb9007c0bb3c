//! A fuzzing harness for echinomap's parsers on stable Rust, without cargo-fuzz or compiler
//! instrumentation (issue 17: "a fuzz target for each parser").
//!
//! A run starts from real inputs ([`seeds`]), mutates them ([`mutate::Mutator`]: bit flips,
//! insertions, deletions, splices, dictionary tokens, interesting numbers; structure-aware inside
//! XLSX workbooks), calls the parser the server calls ([`targets::Target::execute`]) under
//! [`std::panic::catch_unwind`], and counts executions per second and distinct outcomes. An
//! input that gives an outcome not seen before joins the corpus, so that a run reaches further
//! than its seeds without coverage instrumentation. A panic is a crash: its input and message are
//! written to a file and the run fails. What a panic cannot show (an abort, a stack overflow, a
//! hang) stops the process or shows as the slowest execution, which the report names.
//!
//! Main types: [`targets::Target`], [`Budget`], [`Report`].

pub mod mutate;
pub mod seeds;
pub mod targets;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use mutate::Mutator;
use targets::Target;

/// How long a run goes on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// This many executions.
    Execs(u64),
    /// This long.
    Seconds(f64),
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    pub budget: Budget,
    /// The seed of the mutations: the same seed (and the same code) repeats a run.
    pub seed: u64,
    /// Where a panicking input is written; `None`: only in the report.
    pub crash_dir: Option<PathBuf>,
    /// Time between calls of the progress callback.
    pub every: Duration,
    /// Write every input to `crash_dir/TARGET-last.input` before it runs, so that what kills
    /// the process rather than panicking (an allocation failure, a stack overflow) leaves its
    /// input behind. Costs a file write per execution.
    pub keep_last: bool,
}

impl Options {
    pub fn new(budget: Budget) -> Self {
        Self {
            budget,
            seed: 1,
            crash_dir: None,
            every: Duration::from_secs(30),
            keep_last: false,
        }
    }
}

/// A panic of a parser: the input and what the panic said.
#[derive(Debug, Clone)]
pub struct Crash {
    pub message: String,
    pub input: Vec<u8>,
    /// Where the input was written, when a directory was given.
    pub file: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: Target,
    pub seed: u64,
    pub execs: u64,
    pub elapsed: Duration,
    /// Executions per outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// Inputs in the corpus at the end (the seeds included).
    pub corpus: usize,
    /// Distinct panics (by message), each once.
    pub crashes: Vec<Crash>,
    /// Panics in all.
    pub panics: u64,
    /// The slowest execution and the length of its input.
    pub slowest: Duration,
    pub slowest_len: usize,
}

impl Report {
    pub fn execs_per_second(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One line for a log or a table.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} execs in {:.1} s ({:.0} execs/s), {} distinct outcomes, corpus {}, {} panics ({} distinct), slowest exec {:.2} ms ({} bytes), seed {}",
            self.target.name(),
            self.execs,
            self.elapsed.as_secs_f64(),
            self.execs_per_second(),
            self.outcomes.len(),
            self.corpus,
            self.panics,
            self.crashes.len(),
            self.slowest.as_secs_f64() * 1e3,
            self.slowest_len,
            self.seed,
        )
    }
}

/// The largest corpus a run keeps: past it, new outcomes are counted but not kept.
const MAX_CORPUS: usize = 4096;

thread_local! {
    /// Set while this thread runs a target: the panic hook then keeps the message here instead
    /// of printing it (a run may see many).
    static CAUGHT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs, once, a panic hook that keeps the message of a panic on a fuzzing thread and leaves
/// every other panic to the hook that was there.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let fuzzing = CAUGHT.with(|c| {
                let mut c = c.borrow_mut();
                match c.as_mut() {
                    Some(slot) => {
                        *slot = Some(info.to_string());
                        true
                    }
                    None => false,
                }
            });
            if !fuzzing {
                previous(info);
            }
        }));
    });
}

/// Runs `target` once on `input`: its outcome, or the panic's message.
pub fn execute(target: Target, input: &[u8]) -> Result<String, String> {
    install_hook();
    CAUGHT.with(|c| *c.borrow_mut() = Some(None));
    let result = panic::catch_unwind(AssertUnwindSafe(|| target.execute(input)));
    let message = CAUGHT.with(|c| c.borrow_mut().take().flatten());
    result.map_err(|_| message.unwrap_or_else(|| "a panic without a message".to_owned()))
}

/// A file name for a crash: the target and a hash of the input (FNV-1a).
fn crash_name(target: Target, input: &[u8]) -> String {
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}-{hash:016x}", target.name())
}

fn write_crash(dir: &Path, target: Target, input: &[u8], message: &str) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let base = dir.join(crash_name(target, input));
    let file = base.with_extension("input");
    std::fs::write(&file, input).ok()?;
    std::fs::write(
        base.with_extension("txt"),
        format!(
            "target: {}\npanic: {message}\nreplay: echinomap-fuzz {} --replay {}\n",
            target.name(),
            target.name(),
            file.display()
        ),
    )
    .ok()?;
    Some(file)
}

/// Fuzzes `target` as `options` say; `progress` is called about every `options.every` with the
/// report so far.
pub fn run(target: Target, options: &Options, mut progress: impl FnMut(&Report)) -> Report {
    let (budget, seed, every) = (options.budget, options.seed, options.every);
    let crash_dir = options.crash_dir.as_deref();
    let last = crash_dir
        .filter(|_| options.keep_last)
        .map(|d| d.join(format!("{}-last.input", target.name())));
    if let Some(d) = crash_dir.filter(|_| options.keep_last) {
        let _ = std::fs::create_dir_all(d);
    }
    let mut corpus = seeds::seeds(target);
    let mut mutator = Mutator::new(seed, seeds::dictionary(target), target.max_len());
    let mut report = Report {
        target,
        seed,
        execs: 0,
        elapsed: Duration::ZERO,
        outcomes: BTreeMap::new(),
        corpus: corpus.len(),
        crashes: Vec::new(),
        panics: 0,
        slowest: Duration::ZERO,
        slowest_len: 0,
    };
    let start = Instant::now();
    let mut last_progress = start;
    let mut input = Vec::with_capacity(target.max_len());
    // The seeds run first, as they are; then mutations of the corpus.
    let n_seeds = corpus.len();
    let mut next_seed = 0usize;
    loop {
        match budget {
            Budget::Execs(n) if report.execs >= n => break,
            Budget::Seconds(s)
                if report.execs.is_multiple_of(64) && start.elapsed().as_secs_f64() >= s =>
            {
                break;
            }
            _ => {}
        }
        input.clear();
        let is_seed = next_seed < n_seeds;
        if is_seed {
            input.extend_from_slice(&corpus[next_seed]);
            next_seed += 1;
        } else {
            let i = mutator.below(corpus.len());
            let j = mutator.below(corpus.len());
            input.extend_from_slice(&corpus[i]);
            target.mutate(&mut mutator, &mut input, &corpus[j]);
        }
        if let Some(file) = &last {
            let _ = std::fs::write(file, &input);
        }
        let t0 = Instant::now();
        let result = execute(target, &input);
        let took = t0.elapsed();
        report.execs += 1;
        if took > report.slowest {
            report.slowest = took;
            report.slowest_len = input.len();
        }
        match result {
            Ok(outcome) => {
                if let Some(n) = report.outcomes.get_mut(&outcome) {
                    *n += 1;
                } else {
                    report.outcomes.insert(outcome, 1);
                    if !is_seed && corpus.len() < MAX_CORPUS {
                        corpus.push(input.clone());
                    }
                }
            }
            Err(message) => {
                report.panics += 1;
                *report.outcomes.entry("panic".to_owned()).or_default() += 1;
                if !report.crashes.iter().any(|c| c.message == message) {
                    let file = crash_dir.and_then(|d| write_crash(d, target, &input, &message));
                    report.crashes.push(Crash {
                        message,
                        input: input.clone(),
                        file,
                    });
                }
            }
        }
        if report.execs.is_multiple_of(256) && last_progress.elapsed() >= every {
            last_progress = Instant::now();
            report.elapsed = start.elapsed();
            report.corpus = corpus.len();
            progress(&report);
        }
    }
    report.elapsed = start.elapsed();
    report.corpus = corpus.len();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_runs_a_few_thousand_executions_without_a_panic() {
        for target in Target::ALL {
            let execs = if target == Target::Xlsx { 1_000 } else { 3_000 };
            let r = run(target, &Options::new(Budget::Execs(execs)), |_| {});
            assert_eq!(r.execs, execs, "{}", r.summary());
            assert!(
                r.crashes.is_empty(),
                "{}: {:?}",
                r.summary(),
                r.crashes
                    .iter()
                    .map(|c| (&c.message, String::from_utf8_lossy(&c.input)))
                    .collect::<Vec<_>>()
            );
            assert!(r.outcomes.len() > 1, "{}: {:?}", r.summary(), r.outcomes);
        }
    }

    #[test]
    fn a_panic_is_caught_named_and_kept_and_the_hook_stays_quiet() {
        let caught = execute(Target::Dates, b"2024-03-05");
        assert!(caught.is_ok(), "{caught:?}");
        install_hook();
        CAUGHT.with(|c| *c.borrow_mut() = Some(None));
        let result = panic::catch_unwind(|| panic!("boom {}", 7));
        let message = CAUGHT.with(|c| c.borrow_mut().take().flatten());
        assert!(result.is_err());
        assert!(message.is_some_and(|m| m.contains("boom 7")));
    }

    #[test]
    fn a_crash_is_written_with_its_input_and_how_to_replay_it() {
        let dir = std::env::temp_dir().join(format!("echinomap-fuzz-test-{}", std::process::id()));
        let file = write_crash(&dir, Target::Csv, b"a,b\n", "boom").expect("written");
        assert_eq!(std::fs::read(&file).expect("input"), b"a,b\n");
        let txt = std::fs::read_to_string(file.with_extension("txt")).expect("text");
        assert!(
            txt.contains("panic: boom") && txt.contains("--replay"),
            "{txt}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
