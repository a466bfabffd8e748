//! String interning: names (skills, centres, regions, agent ids) become small integers.

use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Maps names to dense ids and back. Ids are never reused, so they stay valid for the core's life.
#[derive(Default, Debug, Clone)]
pub struct Interner {
    map: FxHashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    pub fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).copied()
    }

    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.map.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Arc<str> = Arc::from(name);
        self.names.push(name.clone());
        self.map.insert(name, id);
        id
    }

    pub fn name(&self, id: u32) -> &Arc<str> {
        &self.names[id as usize]
    }
}
