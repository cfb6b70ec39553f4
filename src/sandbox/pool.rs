//! Workers bootstrapped ahead of demand. Permissions are fixed when a worker is built (an egress
//! policy that changed since reaches fetch and WebSocket at once, `egress_gate::refresh`, and
//! the permission check from the next worker), so a worker can be built before its job is known; each one runs exactly one execution and its
//! thread then ends (fresh state per execution stays a guarantee). Taking a worker spawns its
//! replacement; when the pool is empty a call simply gets a worker that is still starting.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::control::Control;
use super::failure;
use super::job::Job;

/// Engine code, deep user recursion and swc's parse of the deepest code `nesting.rs` lets
/// through need more than Rust's 2 MiB default (address space: only touched pages cost memory).
const WORKER_STACK: usize = super::nesting::PARSER_STACK;

/// What an execution thread runs: bootstrap, then wait for its one job (`execution.rs`).
pub type ThreadBody = Arc<dyn Fn(Arc<Control>, oneshot::Receiver<Job>) + Send + Sync>;

/// A worker thread waiting for (or still bootstrapping before) its one job.
pub struct Warm {
    pub control: Arc<Control>,
    jobs: oneshot::Sender<Job>,
}

impl Warm {
    fn spawn(body: &ThreadBody, stuck: &Arc<AtomicUsize>) -> std::io::Result<Warm> {
        let control = Arc::new(Control::new(stuck.clone()));
        let (jobs, receiver) = oneshot::channel();
        let (body, thread_control) = (body.clone(), control.clone());
        std::thread::Builder::new()
            .name("deno-execution".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                super::nesting::mark_parser_stack();
                // A panic the engine cannot unwind parks this thread instead of aborting.
                super::fault::enter(thread_control.clone());
                // A panic outside the job (bootstrap) drops the job's reply: the caller reports it.
                if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| body(thread_control.clone(), receiver))) {
                    tracing::error!("{}", failure::panicked(&*panic).message);
                }
                thread_control.thread_ended();
            })?;
        Ok(Warm { control, jobs })
    }

    /// Hands the job over; gives it back if the thread is gone.
    pub fn start(self, job: Job) -> Result<(), Job> {
        self.jobs.send(job)
    }
}

pub struct Pool {
    body: ThreadBody,
    size: usize,
    idle: Mutex<VecDeque<Warm>>,
    /// Abandoned execution threads that have not ended yet (`MCP_CONDUCTOR_MAX_ABANDONED`).
    pub stuck: Arc<AtomicUsize>,
}

impl Pool {
    /// Keeps `size` threads running `body` ahead of demand.
    pub fn new(body: ThreadBody, size: usize) -> Pool {
        let pool = Pool { body, size, idle: Mutex::new(VecDeque::with_capacity(size)), stuck: Arc::default() };
        pool.refill();
        pool
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Warm workers waiting now.
    #[cfg(test)]
    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    /// The oldest warm worker (the most likely to be ready), or a new one.
    pub fn take(&self) -> std::io::Result<Warm> {
        let taken = self.lock().pop_front();
        self.refill();
        match taken {
            Some(warm) => Ok(warm),
            None => Warm::spawn(&self.body, &self.stuck),
        }
    }

    fn refill(&self) {
        let mut idle = self.lock();
        while idle.len() < self.size {
            match Warm::spawn(&self.body, &self.stuck) {
                Ok(warm) => idle.push_back(warm),
                Err(e) => {
                    tracing::warn!("cannot pre-start a worker: {e}");
                    break;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Warm>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use serde_json::{Map, Value, json};

    use super::*;
    use crate::sandbox::job::ExecRequest;
    use crate::sandbox::output::Captured;
    use crate::sandbox::result::Outcome;

    /// A thread body that answers each job with the code it was given, after counting its start.
    fn echo(started: Arc<AtomicUsize>) -> ThreadBody {
        Arc::new(move |_control, jobs| {
            started.fetch_add(1, Ordering::SeqCst);
            if let Ok(job) = jobs.blocking_recv() {
                let _ = job.reply.send(Outcome::new(Captured::default(), Ok(Value::String(job.request.code))));
            }
        })
    }

    fn job(code: &str) -> (Job, oneshot::Receiver<Outcome>) {
        let (reply, receiver) = oneshot::channel();
        let request =
            ExecRequest { code: code.into(), timeout: Duration::from_secs(5), globals: Map::new(), progress: None, lines: None, client: Default::default(), trace: None, state: None };
        (Job { request, reply }, receiver)
    }

    fn wait_for(what: &str, condition: impl Fn() -> bool) {
        for _ in 0..500 {
            if condition() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("timed out waiting for {what}");
    }

    #[test]
    fn a_pool_starts_its_size_ahead_of_demand_and_replaces_each_taken_worker() {
        let started = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(echo(started.clone()), 2);
        wait_for("two threads", || started.load(Ordering::SeqCst) == 2);
        assert_eq!(pool.idle(), 2);

        let (job, reply) = job("first");
        pool.take().unwrap().start(job).map_err(|_| "thread gone").unwrap();
        assert_eq!(reply.blocking_recv().unwrap().result, Ok(json!("first")));
        assert_eq!(pool.idle(), 2, "the taken worker was replaced at once");
        wait_for("the replacement thread", || started.load(Ordering::SeqCst) == 3);
    }

    #[test]
    fn each_worker_takes_exactly_one_job() {
        let started = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(echo(started.clone()), 1);
        let replies: Vec<_> = (0..5)
            .map(|i| {
                let (job, reply) = job(&format!("job {i}"));
                pool.take().unwrap().start(job).map_err(|_| "thread gone").unwrap();
                reply
            })
            .collect();
        for (i, reply) in replies.into_iter().enumerate() {
            assert_eq!(reply.blocking_recv().unwrap().result, Ok(json!(format!("job {i}"))));
        }
        // Five jobs, five threads, plus the one waiting now.
        wait_for("six threads", || started.load(Ordering::SeqCst) == 6);
    }

    #[test]
    fn an_empty_pool_starts_a_worker_on_demand() {
        let started = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(echo(started.clone()), 0);
        assert_eq!(pool.idle(), 0);
        let (job, reply) = job("on demand");
        pool.take().unwrap().start(job).map_err(|_| "thread gone").unwrap();
        assert_eq!(reply.blocking_recv().unwrap().result, Ok(json!("on demand")));
        assert_eq!(pool.idle(), 0);
        assert_eq!(started.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_worker_whose_thread_died_gives_the_job_back() {
        let dies: ThreadBody = Arc::new(|_control, jobs| drop(jobs));
        let pool = Pool::new(dies, 0);
        let warm = pool.take().unwrap();
        let control = warm.control.clone();
        wait_for("the thread to end", || control.has_ended());
        let (job, _reply) = job("returned");
        let returned = warm.start(job).err().expect("the job comes back");
        assert_eq!(returned.request.code, "returned");
    }
}
