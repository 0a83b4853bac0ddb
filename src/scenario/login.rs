//! Logging staff members in and out before a decision, as a case does it
//! (`login: {sam: A}` in a scenario file) and as `commroute route inbound
//! --login sam@A` does it: the one parser of `STAFF@LOCATION` and the one
//! check that a staff member may log in at a location.
//!
//! Reading the scenario file's `login:` mapping is in `load.rs`; the command
//! line's flags are in `cli/route.rs`. The simulator's `login` events have
//! their own reader in the replay timeline.

use crate::world::locset::Loc;
use crate::world::{StaffIdx, World};

/// Why a login or logout cannot be applied. The messages say what is
/// wrong with the value; the caller says which value (a flag, a file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The text is not `STAFF@LOCATION`.
    #[error("write STAFF@LOCATION, e.g. sam@A")]
    NotStaffAtLocation,
    /// No staff member has this id.
    #[error("unknown staff member")]
    UnknownStaff,
    /// No location has this id.
    #[error("unknown location `{0}`")]
    UnknownLocation(String),
    /// The location is not one of the staff member's.
    #[error("`{staff}` is not associated with `{location}` (their locations: {theirs})")]
    NotTheirLocation {
        staff: String,
        location: String,
        /// Their locations, comma-separated.
        theirs: String,
    },
}

/// A login as written: staff member `staff` at location `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffLogin {
    /// The staff member's id.
    pub staff: String,
    /// The location's id.
    pub location: String,
}

impl StaffLogin {
    /// Parses `STAFF@LOCATION` (`sam@A`); the ids are checked by [`StaffLogin::apply`].
    pub fn parse(spec: &str) -> Result<StaffLogin, LoginError> {
        let (staff, location) = spec.split_once('@').ok_or(LoginError::NotStaffAtLocation)?;
        Ok(StaffLogin {
            staff: staff.to_owned(),
            location: location.to_owned(),
        })
    }

    /// Logs the staff member in at the location, both checked against `world`.
    pub fn apply(&self, world: &mut World) -> Result<(), LoginError> {
        let staff = staff_index(world, &self.staff)?;
        let location = world
            .location(&self.location)
            .ok_or_else(|| LoginError::UnknownLocation(self.location.clone()))?;
        if !may_log_in(world, staff, location) {
            let member = &world.staff[staff as usize];
            return Err(LoginError::NotTheirLocation {
                staff: self.staff.clone(),
                location: self.location.clone(),
                theirs: world.loc_ids(&member.locations).join(", "),
            });
        }
        world.set_login(staff, Some(location));
        Ok(())
    }
}

/// Logs the staff member `staff` out.
pub fn log_out(world: &mut World, staff: &str) -> Result<(), LoginError> {
    let ix = staff_index(world, staff)?;
    world.set_login(ix, None);
    Ok(())
}

fn staff_index(world: &World, id: &str) -> Result<StaffIdx, LoginError> {
    world.staff_member(id).ok_or(LoginError::UnknownStaff)
}

/// Whether `staff` may log in at `location`: it is one of their locations.
pub(crate) fn may_log_in(world: &World, staff: StaffIdx, location: Loc) -> bool {
    world.staff[staff as usize].locations.contains(location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_is_staff_at_location() {
        assert_eq!(
            StaffLogin::parse("sam@A"),
            Ok(StaffLogin {
                staff: "sam".into(),
                location: "A".into()
            })
        );
        assert_eq!(StaffLogin::parse("sam"), Err(LoginError::NotStaffAtLocation));
        // Only the first `@` splits; the ids are checked against the world later.
        assert_eq!(StaffLogin::parse("a@b@c").unwrap().location, "b@c");
    }
}
