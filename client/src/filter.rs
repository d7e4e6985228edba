//! The `AuditLogFilter` setters shared by [`ListQuery`](crate::ListQuery)
//! and [`StatsQuery`](crate::StatsQuery), written once as a macro so both
//! carry them as inherent methods (no trait to import).

/// Expands to one setter per `AuditLogFilter` field, inside an `impl` block
/// of a type with `fn filter_mut(&mut self) -> &mut AuditLogFilter`.
macro_rules! filter_setters {
    () => {
        /// Matches entries whose actor has this id.
        pub fn actor_id(mut self, actor_id: impl Into<String>) -> Self {
            self.filter_mut().actor_id = actor_id.into();
            self
        }

        /// Matches entries whose actor has this email.
        pub fn actor_email(mut self, actor_email: impl Into<String>) -> Self {
            self.filter_mut().actor_email = actor_email.into();
            self
        }

        /// Matches entries whose actor is of this kind.
        pub fn actor_type(mut self, actor_type: $crate::ActorType) -> Self {
            self.filter_mut().actor_type = actor_type as i32;
            self
        }

        /// Matches an action exactly (`user.login`), or by prefix when it
        /// ends in `*` (`user.*`).
        pub fn action(mut self, action: impl Into<String>) -> Self {
            self.filter_mut().action = action.into();
            self
        }

        /// Matches entries whose target is of this type.
        pub fn target_type(mut self, target_type: impl Into<String>) -> Self {
            self.filter_mut().target_type = target_type.into();
            self
        }

        /// Matches entries whose target has this id.
        pub fn target_id(mut self, target_id: impl Into<String>) -> Self {
            self.filter_mut().target_id = target_id.into();
            self
        }

        /// Matches entries that ended this way.
        pub fn result(mut self, result: $crate::Outcome) -> Self {
            self.filter_mut().result = result as i32;
            self
        }

        /// Matches a client address (`10.0.0.7`) or a CIDR block
        /// (`10.0.0.0/8`, `2001:db8::/32`).
        pub fn client_ip(mut self, client_ip: impl Into<String>) -> Self {
            self.filter_mut().client_ip = client_ip.into();
            self
        }

        /// Matches entries that occurred at or after `start` (inclusive).
        pub fn since(mut self, start: impl $crate::IntoTimestamp) -> Self {
            self.filter_mut().start_time = Some(start.into_timestamp());
            self
        }

        /// Matches entries that occurred before `end` (exclusive).
        pub fn until(mut self, end: impl $crate::IntoTimestamp) -> Self {
            self.filter_mut().end_time = Some(end.into_timestamp());
            self
        }

        /// Looks into this tenant: only an `audit:admin` may name a tenant
        /// other than their own (without it, an admin sees every tenant).
        pub fn tenant(mut self, tenant_id: impl Into<String>) -> Self {
            self.filter_mut().tenant_id = tenant_id.into();
            self
        }

        /// Replaces the whole filter, e.g. one built elsewhere.
        pub fn filter(mut self, filter: $crate::AuditLogFilter) -> Self {
            *self.filter_mut() = filter;
            self
        }
    };
}

pub(crate) use filter_setters;
