//! Skills and proficiency: interned skill ids, bit masks for quick subset tests, level tables.

pub type SkillId = u16;
pub type Level = u8;
pub const MAX_LEVEL: Level = 10;

/// A 128-bit skill mask. Skill `s` sets bit `s % 128`, so a mask test is a necessary condition for
/// "has every skill" (exact for up to 128 skills) and the level check that follows makes it exact.
pub type Mask = u128;

pub fn bit(skill: SkillId) -> Mask {
    1u128 << (skill % 128)
}

pub fn mask_of(skills: &[(SkillId, Level)]) -> Mask {
    skills.iter().fold(0, |m, &(s, _)| m | bit(s))
}

/// An agent's proficiency per skill id, dense: `None` where the agent lacks the skill.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Levels(Vec<Option<Level>>);

impl Levels {
    pub fn from_sorted(skills: &[(SkillId, Level)]) -> Self {
        let len = skills.last().map_or(0, |&(s, _)| s as usize + 1);
        let mut v = vec![None; len];
        for &(s, l) in skills {
            v[s as usize] = Some(l);
        }
        Levels(v)
    }

    #[inline]
    pub fn get(&self, skill: SkillId) -> Option<Level> {
        self.0.get(skill as usize).copied().flatten()
    }

    /// Whether every `(skill, min_level)` requirement is met.
    #[inline]
    pub fn satisfies(&self, required: &[(SkillId, Level)]) -> bool {
        required.iter().all(|&(s, m)| matches!(self.get(s), Some(l) if l >= m))
    }
}

/// Requirements relaxed by `delta` levels (never below 0), sorted by skill id: a bucket's key.
pub fn relaxed(required: &[(SkillId, Level)], delta: Level) -> Box<[(SkillId, Level)]> {
    let mut v: Vec<(SkillId, Level)> = required.iter().map(|&(s, m)| (s, m.saturating_sub(delta))).collect();
    v.sort_unstable();
    v.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_masks() {
        let skills = [(1, 5), (3, 10)];
        let lv = Levels::from_sorted(&skills);
        assert_eq!(lv.get(1), Some(5));
        assert_eq!(lv.get(2), None);
        assert_eq!(lv.get(99), None);
        assert!(lv.satisfies(&[(1, 5), (3, 0)]));
        assert!(!lv.satisfies(&[(1, 6)]));
        assert!(!lv.satisfies(&[(2, 0)]));
        assert_eq!(mask_of(&skills), 0b1010);
        assert_eq!(bit(129), bit(1));
    }

    #[test]
    fn relaxing_never_goes_below_zero() {
        assert_eq!(&*relaxed(&[(4, 2), (1, 7)], 3), &[(1, 4), (4, 0)]);
    }
}
