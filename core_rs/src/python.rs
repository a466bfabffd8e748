//! The PyO3 bindings: conversions and thin wrappers, nothing else. Built with the `python` feature.
//!
//! Ids returned to Python are the very string objects Python handed in (kept per agent name and
//! per call slot), so a decision costs no string allocation on the way back.

use crate::core::{AgentUpdate, CallSpec, Core};
use crate::error::{CoreError as RsError, ErrorKind};
use crate::policy::{ClassSpec, PolicySpec, QueueSpec, SelectionSpec, StepSpec};
use crate::report::{AgentInfo, CallInfo, Explanation, QueueStats};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple, PyType};
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::create_exception!(
    router._core,
    CoreError,
    PyValueError,
    "Base of every error the routing core raises."
);
pyo3::create_exception!(
    router._core,
    DuplicateIdError,
    CoreError,
    "An agent or call id that already exists."
);
pyo3::create_exception!(
    router._core,
    InvalidStateError,
    CoreError,
    "The operation does not fit the current state."
);
pyo3::create_exception!(
    router._core,
    InvalidTimeError,
    CoreError,
    "A time that is NaN, negative, or goes backwards."
);
pyo3::create_exception!(router._core, PolicyError, CoreError, "A policy that is malformed or contradictory.");
pyo3::create_exception!(router._core, InvalidInputError, CoreError, "An argument out of range or malformed.");
pyo3::create_exception!(router._core, InternalError, CoreError, "A bug in the core (a caught Rust panic).");

/// `UnknownIdError(CoreError, KeyError)`: two bases, so it is built with `type()` at import.
static UNKNOWN_ID: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn unknown_id_type(py: Python<'_>) -> PyResult<&Py<PyType>> {
    UNKNOWN_ID.get_or_try_init(py, || {
        let bases = PyTuple::new(
            py,
            [py.get_type::<CoreError>().into_any(), py.get_type::<PyKeyError>().into_any()],
        )?;
        let ns = PyDict::new(py);
        ns.set_item("__module__", "router._core")?;
        ns.set_item("__doc__", "An agent, call, queue or class id the core does not know.")?;
        let ty = py.get_type::<PyType>().call1(("UnknownIdError", bases, ns))?;
        Ok(ty.cast_into::<PyType>()?.unbind())
    })
}

fn to_py_err(py: Python<'_>, e: RsError) -> PyErr {
    match e.kind {
        ErrorKind::UnknownId => match unknown_id_type(py) {
            Ok(ty) => PyErr::from_type(ty.bind(py).clone(), e.message),
            Err(err) => err,
        },
        ErrorKind::DuplicateId => DuplicateIdError::new_err(e.message),
        ErrorKind::InvalidState => InvalidStateError::new_err(e.message),
        ErrorKind::InvalidTime => InvalidTimeError::new_err(e.message),
        ErrorKind::Policy => PolicyError::new_err(e.message),
        ErrorKind::InvalidInput => InvalidInputError::new_err(e.message),
    }
}

/// Runs `f`, turning a core error into its Python exception and a panic into `InternalError`.
fn guard<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, RsError>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py_err(py, e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(InternalError::new_err(format!("internal error in the routing core (a bug): {msg}")))
        }
    }
}

// ----- policy conversion (dict -> PolicySpec), rejecting unknown keys ---------------------------

fn policy_err(msg: String) -> PyErr {
    PolicyError::new_err(msg)
}

fn as_dict<'py>(v: &Bound<'py, PyAny>, path: &str) -> PyResult<Bound<'py, PyDict>> {
    v.cast::<PyDict>().cloned().map_err(|_| policy_err(format!("{path}: expected a table (dict)")))
}

fn check_keys(d: &Bound<'_, PyDict>, path: &str, allowed: &[&str]) -> PyResult<()> {
    for k in d.keys() {
        let k: String = k.extract().map_err(|_| policy_err(format!("{path}: keys must be strings")))?;
        if !allowed.contains(&k.as_str()) {
            return Err(policy_err(format!(
                "{path}.{k}: unknown key (expected one of {})",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn get<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str, path: &str) -> PyResult<Option<T>> {
    match d.get_item(key)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v.extract::<T>().map(Some).map_err(|_| {
            let ty = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            policy_err(format!("{path}.{key}: wrong type {ty} ({})", std::any::type_name::<T>()))
        }),
    }
}

fn require<'py, T: FromPyObjectOwned<'py>>(d: &Bound<'py, PyDict>, key: &str, path: &str) -> PyResult<T> {
    get(d, key, path)?.ok_or_else(|| policy_err(format!("{path}.{key}: missing")))
}

fn list<'py>(d: &Bound<'py, PyDict>, key: &str, path: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    match d.get_item(key)? {
        None => Ok(Vec::new()),
        Some(v) => {
            if v.is_instance_of::<PyString>() || v.is_instance_of::<PyDict>() {
                return Err(policy_err(format!("{path}.{key}: expected a list")));
            }
            v.try_iter()
                .map_err(|_| policy_err(format!("{path}.{key}: expected a list")))?
                .collect::<PyResult<Vec<_>>>()
        }
    }
}

/// A `(name, value)` pair given as a tuple or a two-item list (TOML has no tuples).
fn pair<'py, T: FromPyObjectOwned<'py>>(item: &Bound<'py, PyAny>) -> Option<(String, T)> {
    if let Ok(t) = item.extract::<(String, T)>() {
        return Some(t);
    }
    let l = item.cast::<PyList>().ok()?;
    if l.len() != 2 {
        return None;
    }
    Some((l.get_item(0).ok()?.extract().ok()?, l.get_item(1).ok()?.extract().ok()?))
}

fn pairs<'py, T: FromPyObjectOwned<'py>>(
    items: Vec<Bound<'py, PyAny>>,
    path: &str,
) -> PyResult<Vec<(String, T)>> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            pair(it).ok_or_else(|| policy_err(format!("{path}[{i}]: expected a [name, value] pair")))
        })
        .collect()
}

fn policy_spec(policy: &Bound<'_, PyAny>) -> PyResult<PolicySpec> {
    let d = as_dict(policy, "policy")?;
    check_keys(&d, "policy", &["classes", "queues", "regions", "skill_weights", "selection"])?;
    let mut spec = PolicySpec::default();
    for (i, c) in list(&d, "classes", "policy")?.iter().enumerate() {
        let p = format!("classes[{i}]");
        let c = as_dict(c, &p)?;
        check_keys(&c, &p, &["name", "base", "ageing"])?;
        spec.classes.push(ClassSpec {
            name: require(&c, "name", &p)?,
            base: get(&c, "base", &p)?.unwrap_or(0.0),
            ageing: get(&c, "ageing", &p)?.unwrap_or(1.0),
        });
    }
    for (i, q) in list(&d, "queues", "policy")?.iter().enumerate() {
        let p = format!("queues[{i}]");
        let q = as_dict(q, &p)?;
        check_keys(&q, &p, &["name", "weight", "aht", "required", "steps"])?;
        let mut steps = Vec::new();
        for (j, s) in list(&q, "steps", &p)?.iter().enumerate() {
            let sp = format!("{p}.steps[{j}]");
            let s = as_dict(s, &sp)?;
            check_keys(&s, &sp, &["after", "scope", "level_delta", "preferred_only"])?;
            steps.push(StepSpec {
                after: get(&s, "after", &sp)?.unwrap_or(0.0),
                scope: get(&s, "scope", &sp)?,
                level_delta: get(&s, "level_delta", &sp)?,
                preferred_only: get(&s, "preferred_only", &sp)?,
            });
        }
        if steps.is_empty() && q.get_item("steps")?.is_none() {
            steps.push(StepSpec::default());
        }
        spec.queues.push(QueueSpec {
            name: require(&q, "name", &p)?,
            weight: get(&q, "weight", &p)?.unwrap_or(0.0),
            aht: get(&q, "aht", &p)?.unwrap_or(180.0),
            required: pairs(list(&q, "required", &p)?, &format!("{p}.required"))?,
            steps,
        });
    }
    if let Some(r) = d.get_item("regions")? {
        let r = as_dict(&r, "regions")?;
        for (name, members) in r.iter() {
            let name: String =
                name.extract().map_err(|_| policy_err("regions: names must be strings".into()))?;
            let members: Vec<String> = members
                .extract()
                .map_err(|_| policy_err(format!("regions.{name}: expected a list of centre names")))?;
            spec.regions.push((name, members));
        }
    }
    if let Some(w) = d.get_item("skill_weights")? {
        let w = as_dict(&w, "skill_weights")?;
        for (name, v) in w.iter() {
            let name: String =
                name.extract().map_err(|_| policy_err("skill_weights: names must be strings".into()))?;
            let v: f64 =
                v.extract().map_err(|_| policy_err(format!("skill_weights.{name}: expected a number")))?;
            spec.skill_weights.push((name, v));
        }
    }
    if let Some(s) = d.get_item("selection")? {
        let s = as_dict(&s, "selection")?;
        check_keys(&s, "selection", &["strategy", "idle", "talk", "skill", "home"])?;
        spec.selection = SelectionSpec {
            strategy: get(&s, "strategy", "selection")?.unwrap_or_else(|| "longest_idle".into()),
            idle: get(&s, "idle", "selection")?,
            talk: get(&s, "talk", "selection")?,
            skill: get(&s, "skill", "selection")?,
            home: get(&s, "home", "selection")?,
        };
    }
    Ok(spec)
}

fn skills_arg(skills: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, i64)>> {
    if let Ok(d) = skills.cast::<PyDict>() {
        return d
            .iter()
            .map(|(k, v)| {
                let k: String = k.extract().map_err(|_| {
                    let shown = k.repr().map(|r| r.to_string()).unwrap_or_default();
                    InvalidInputError::new_err(format!("{what}: skill name {shown} must be a string"))
                })?;
                let v: i64 = v.extract().map_err(|_| {
                    InvalidInputError::new_err(format!("{what}: skill {k:?} level must be an integer"))
                })?;
                Ok((k, v))
            })
            .collect();
    }
    Err(InvalidInputError::new_err(format!("{what}: skills must be a dict of name -> level")))
}

fn pair_list<'py, T: FromPyObjectOwned<'py>>(
    v: &Bound<'py, PyAny>,
    what: impl Fn() -> String,
) -> PyResult<Vec<(String, T)>> {
    let err = || InvalidInputError::new_err(format!("{}: expected a list of (skill, value) pairs", what()));
    if v.is_instance_of::<PyString>() {
        return Err(err());
    }
    let mut out = Vec::new();
    for (i, it) in v.try_iter().map_err(|_| err())?.enumerate() {
        let it = it?;
        let Some(p) = pair(&it) else {
            let shown = it.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(InvalidInputError::new_err(format!(
                "{}[{i}]: expected a (skill, {}) pair, got {shown}",
                what(),
                if std::any::type_name::<T>() == "i64" { "integer level" } else { "number" }
            )));
        };
        out.push(p);
    }
    Ok(out)
}

fn borrow(v: &[(String, i64)]) -> Vec<(&str, i64)> {
    v.iter().map(|(s, l)| (s.as_str(), *l)).collect()
}

// ----- the class --------------------------------------------------------------------------------

/// Waiting calls, agents and the policy that matches them; time is always passed in.
#[pyclass(module = "router._core", name = "Core")]
pub struct PyCore {
    core: Core,
    /// Python string objects for agent name ids and call slots, returned without allocating.
    agent_strs: Vec<Option<Py<PyString>>>,
    call_strs: Vec<Option<Py<PyString>>>,
}

impl PyCore {
    fn agent_str(&mut self, py: Python<'_>, slot: u32) -> Py<PyString> {
        let i = slot as usize;
        if self.agent_strs.len() <= i {
            self.agent_strs.resize_with(i + 1, || None);
        }
        self.agent_strs[i]
            .get_or_insert_with(|| PyString::new(py, self.core.agent_name(slot)).unbind())
            .clone_ref(py)
    }

    fn call_str(&self, py: Python<'_>, slot: u32) -> Py<PyString> {
        match self.call_strs.get(slot as usize) {
            Some(Some(s)) => s.clone_ref(py),
            _ => PyString::new(py, self.core.call_id(slot)).unbind(),
        }
    }
}

fn agent_info_dict<'py>(py: Python<'py>, a: AgentInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &*a.id)?;
    d.set_item("centre", &*a.centre)?;
    let skills = PyDict::new(py);
    for (s, l) in a.skills {
        skills.set_item(&*s, l)?;
    }
    d.set_item("skills", skills)?;
    d.set_item("max_calls", a.max_calls)?;
    d.set_item("state", a.state)?;
    d.set_item("reason", a.reason)?;
    d.set_item("active", a.active)?;
    d.set_item("available_since", a.available_since)?;
    d.set_item("calls_taken", a.calls_taken)?;
    d.set_item("talk_time", a.talk_time)?;
    Ok(d)
}

fn call_info_dict<'py>(py: Python<'py>, c: CallInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &*c.id)?;
    d.set_item("queue", &*c.queue)?;
    d.set_item("cls", &*c.class)?;
    d.set_item("home", &*c.home)?;
    let req: Vec<(&str, u8)> = c.required.iter().map(|(s, l)| (&**s, *l)).collect();
    d.set_item("required", req)?;
    let pref: Vec<(&str, f64)> = c.preferred.iter().map(|(s, w)| (&**s, *w)).collect();
    d.set_item("preferred", pref)?;
    d.set_item("preferred_agent", c.preferred_agent.as_deref())?;
    d.set_item("enqueued_at", c.enqueued_at)?;
    d.set_item("state", if c.waiting { "waiting" } else { "assigned" })?;
    d.set_item("agent", c.agent.as_deref())?;
    Ok(d)
}

fn explanation_dict<'py>(py: Python<'py>, e: Explanation) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("eligible", e.eligible)?;
    d.set_item("reasons", PyList::new(py, e.reasons)?)?;
    d.set_item("step", e.step)?;
    d.set_item("scope", e.scope)?;
    d.set_item("priority", e.priority)?;
    d.set_item("skill_score", e.skill_score)?;
    d.set_item("home", e.home)?;
    d.set_item("fair", e.fair)?;
    d.set_item("score", e.score)?;
    d.set_item("idle", e.idle)?;
    d.set_item("talk_time", e.talk_time)?;
    Ok(d)
}

fn stats_dict<'py>(py: Python<'py>, s: QueueStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("waiting", s.waiting)?;
    let by = PyDict::new(py);
    for (c, n) in s.by_class {
        by.set_item(&*c, n)?;
    }
    d.set_item("by_class", by)?;
    d.set_item("longest_wait", s.longest_wait)?;
    d.set_item("aht", s.aht)?;
    d.set_item("staffed", s.staffed)?;
    Ok(d)
}

#[pymethods]
impl PyCore {
    #[new]
    fn new(py: Python<'_>, policy: &Bound<'_, PyAny>) -> PyResult<Self> {
        let spec = policy_spec(policy)?;
        let core = guard(py, || Core::new(&spec))?;
        Ok(PyCore { core, agent_strs: Vec::new(), call_strs: Vec::new() })
    }

    fn set_policy(&mut self, py: Python<'_>, policy: &Bound<'_, PyAny>, now: f64) -> PyResult<()> {
        let spec = policy_spec(policy)?;
        guard(py, || self.core.set_policy(&spec, now))
    }

    #[pyo3(signature = (agent_id, centre, skills, *, max_calls=1, calls_taken=0, talk_time=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn add_agent(
        &mut self,
        py: Python<'_>,
        agent_id: &str,
        centre: &str,
        skills: &Bound<'_, PyAny>,
        max_calls: i64,
        calls_taken: i64,
        talk_time: f64,
    ) -> PyResult<()> {
        let skills = skills_arg(skills, &format!("agent {agent_id:?}"))?;
        guard(py, || {
            self.core.add_agent(agent_id, centre, &borrow(&skills), max_calls, calls_taken, talk_time)
        })
    }

    #[pyo3(signature = (agent_id, *, centre=None, skills=None, max_calls=None, calls_taken=None, talk_time=None))]
    #[allow(clippy::too_many_arguments)]
    fn update_agent(
        &mut self,
        py: Python<'_>,
        agent_id: &str,
        centre: Option<&str>,
        skills: Option<&Bound<'_, PyAny>>,
        max_calls: Option<i64>,
        calls_taken: Option<i64>,
        talk_time: Option<f64>,
    ) -> PyResult<()> {
        let skills = skills.map(|s| skills_arg(s, &format!("agent {agent_id:?}"))).transpose()?;
        let update =
            AgentUpdate { centre, skills: skills.as_deref().map(borrow), max_calls, calls_taken, talk_time };
        guard(py, || self.core.update_agent(agent_id, &update))
    }

    fn remove_agent(&mut self, py: Python<'_>, agent_id: &str) -> PyResult<()> {
        guard(py, || self.core.remove_agent(agent_id))
    }

    #[pyo3(signature = (agent_id, state, now, reason=None))]
    fn set_agent_state(
        &mut self,
        py: Python<'_>,
        agent_id: &str,
        state: &str,
        now: f64,
        reason: Option<&str>,
    ) -> PyResult<()> {
        guard(py, || self.core.set_agent_state(agent_id, state, now, reason))
    }

    fn agent_info<'py>(&self, py: Python<'py>, agent_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let info = guard(py, || self.core.agent_info(agent_id))?;
        agent_info_dict(py, info)
    }

    #[pyo3(signature = (call_id, queue, cls, home, now, *, required=None, preferred=None, preferred_agent=None, enqueued_at=None))]
    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        py: Python<'_>,
        call_id: &Bound<'_, PyString>,
        queue: &str,
        cls: &str,
        home: &str,
        now: f64,
        required: Option<&Bound<'_, PyAny>>,
        preferred: Option<&Bound<'_, PyAny>>,
        preferred_agent: Option<&str>,
        enqueued_at: Option<f64>,
    ) -> PyResult<()> {
        let id = call_id.to_str()?;
        let required =
            required.map(|r| pair_list::<i64>(r, || format!("call {id:?}: required"))).transpose()?;
        let preferred = match preferred {
            Some(p) => pair_list::<f64>(p, || format!("call {id:?}: preferred"))?,
            None => Vec::new(),
        };
        let spec = CallSpec {
            id,
            queue,
            class: cls,
            home,
            required: required.as_deref().map(borrow),
            preferred: preferred.iter().map(|(s, w)| (s.as_str(), *w)).collect(),
            preferred_agent,
            enqueued_at,
        };
        let slot = guard(py, || self.core.enqueue(&spec, now))? as usize;
        if self.call_strs.len() <= slot {
            self.call_strs.resize_with(slot + 1, || None);
        }
        self.call_strs[slot] = Some(call_id.clone().unbind());
        Ok(())
    }

    fn remove_call(&mut self, py: Python<'_>, call_id: &str, now: f64) -> PyResult<()> {
        guard(py, || self.core.remove_call(call_id, now))
    }

    fn requeue(&mut self, py: Python<'_>, call_id: &str, now: f64) -> PyResult<()> {
        guard(py, || self.core.requeue(call_id, now))
    }

    fn finish(&mut self, py: Python<'_>, call_id: &str, now: f64, talk_seconds: f64) -> PyResult<()> {
        guard(py, || self.core.finish(call_id, now, talk_seconds))
    }

    fn call_info<'py>(&self, py: Python<'py>, call_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let info = guard(py, || self.core.call_info(call_id))?;
        call_info_dict(py, info)
    }

    fn best_agent(&mut self, py: Python<'_>, call_id: &str, now: f64) -> PyResult<Option<Py<PyString>>> {
        let agent = guard(py, || self.core.best_agent(call_id, now))?;
        Ok(agent.map(|a| self.agent_str(py, a)))
    }

    fn best_call(&mut self, py: Python<'_>, agent_id: &str, now: f64) -> PyResult<Option<Py<PyString>>> {
        let call = guard(py, || self.core.best_call(agent_id, now))?;
        Ok(call.map(|c| self.call_str(py, c)))
    }

    fn assign(&mut self, py: Python<'_>, call_id: &str, agent_id: &str, now: f64) -> PyResult<()> {
        guard(py, || self.core.assign(call_id, agent_id, now))
    }

    fn dispatch_call(&mut self, py: Python<'_>, call_id: &str, now: f64) -> PyResult<Option<Py<PyString>>> {
        let agent = guard(py, || self.core.dispatch_call(call_id, now))?;
        Ok(agent.map(|a| self.agent_str(py, a)))
    }

    fn dispatch_agent(&mut self, py: Python<'_>, agent_id: &str, now: f64) -> PyResult<Option<Py<PyString>>> {
        let call = guard(py, || self.core.dispatch_agent(agent_id, now))?;
        Ok(call.map(|c| self.call_str(py, c)))
    }

    fn match_all(&mut self, py: Python<'_>, now: f64) -> PyResult<Vec<(Py<PyString>, Py<PyString>)>> {
        let pairs = guard(py, || self.core.match_all(now))?;
        Ok(pairs.into_iter().map(|(c, a)| (self.call_str(py, c), self.agent_str(py, a))).collect())
    }

    fn next_relaxation(&mut self, py: Python<'_>) -> PyResult<Option<f64>> {
        guard(py, || Ok(self.core.next_relaxation()))
    }

    fn call_position(&mut self, py: Python<'_>, call_id: &str, now: f64) -> PyResult<(u32, Option<f64>)> {
        guard(py, || self.core.call_position(call_id, now))
    }

    fn expected_wait(&mut self, py: Python<'_>, queue: &str, cls: &str, now: f64) -> PyResult<Option<f64>> {
        guard(py, || self.core.expected_wait(queue, cls, now))
    }

    fn queue_stats<'py>(&mut self, py: Python<'py>, queue: &str, now: f64) -> PyResult<Bound<'py, PyDict>> {
        let stats = guard(py, || self.core.queue_stats(queue, now))?;
        stats_dict(py, stats)
    }

    fn explain<'py>(
        &mut self,
        py: Python<'py>,
        call_id: &str,
        agent_id: &str,
        now: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let e = guard(py, || self.core.explain(call_id, agent_id, now))?;
        explanation_dict(py, e)
    }

    fn waiting_calls(&self) -> Vec<String> {
        self.core.waiting_calls().iter().map(|s| s.to_string()).collect()
    }

    fn agent_ids(&self) -> Vec<String> {
        self.core.agent_ids().iter().map(|s| s.to_string()).collect()
    }

    /// Panics inside the core on purpose, to prove panics become `InternalError`.
    fn _panic_for_test(&self, py: Python<'_>) -> PyResult<()> {
        guard(py, || -> Result<(), RsError> { panic!("deliberate panic for the FFI-boundary test") })
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyCore>()?;
    m.add("CoreError", py.get_type::<CoreError>())?;
    m.add("UnknownIdError", unknown_id_type(py)?.bind(py))?;
    m.add("DuplicateIdError", py.get_type::<DuplicateIdError>())?;
    m.add("InvalidStateError", py.get_type::<InvalidStateError>())?;
    m.add("InvalidTimeError", py.get_type::<InvalidTimeError>())?;
    m.add("PolicyError", py.get_type::<PolicyError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add(
        "__all__",
        [
            "Core",
            "CoreError",
            "DuplicateIdError",
            "InternalError",
            "InvalidInputError",
            "InvalidStateError",
            "InvalidTimeError",
            "PolicyError",
            "UnknownIdError",
        ],
    )?;
    Ok(())
}
