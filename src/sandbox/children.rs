//! Processes an execution started (when `allow-run` permits) die with it: the ones it
//! `spawn()`ed (tracked by pid through the glue) and every child of its OS thread (Linux lists
//! a thread's children in `/proc/self/task/<tid>/children`), so also those of `outputSync()`,
//! which holds the thread until the child exits: killing it frees an abandoned thread.
//! Descendants (a shell's background jobs) are collected first and killed too.

/// The calling thread's id.
pub fn current_thread() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Kills (and reaps) tracked processes that are still our children. Only our own children are
/// touched, so a recycled pid of an unrelated process is safe.
pub fn kill(pids: &[u32]) {
    let me = std::process::id();
    for &pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent != Some(me.to_string().as_str()) {
            continue; // already gone (or not ours)
        }
        kill_tree(pid, true);
    }
}

/// Kills every process the thread `tid` of this process started (and their descendants). Not
/// reaped here: a thread blocked in `outputSync()` reaps its child itself.
pub fn kill_thread_children(tid: i32) {
    let listed = std::fs::read_to_string(format!("/proc/self/task/{tid}/children")).unwrap_or_default();
    for pid in listed.split_whitespace().filter_map(|p| p.parse::<u32>().ok()) {
        kill_tree(pid, false);
    }
}

fn kill_tree(pid: u32, reap: bool) {
    // Collected before the kill: they are re-parented away from it afterwards.
    let descendants = descendants(pid);
    // SAFETY: plain syscalls on a pid that is our child, and on its descendants.
    unsafe {
        libc::kill(pid as i32, libc::SIGKILL);
        if reap {
            libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
        }
        for d in &descendants {
            libc::kill(*d as i32, libc::SIGKILL);
        }
    }
    tracing::debug!(pid, ?descendants, "killed a process the execution left running");
}

/// Every process below `pid`, from `/proc/<pid>/task/*/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for task in tasks.flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
                if !found.contains(&child) && found.len() < 4096 {
                    found.push(child);
                    queue.push(child);
                }
            }
        }
    }
    found
}
