//! Who is asking, and what they may see.
//!
//! A user has one [`Role`] and one jurisdiction (the county, a township or a village). What a
//! role may do is the table in [`Role::permissions`]; where it may do it is its [`Scope`]. Both
//! are applied in one place: every route declares the `Access` it needs in the route table
//! (`server::http::route_table`), the guard there checks it, and handlers filter rows with [`Scope`].

pub mod password;
pub mod purge;
pub mod sessions;
pub mod store;
pub mod token;
pub mod wechat;

use echinomap_domain::PlaceCode;
use echinomap_domain::privacy::Audience;
use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "user_role", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Epidemiologist,
    TownshipStaff,
    VillageDoctor,
    Vet,
    Planner,
    Viewer,
    /// The keeper of the stores in their jurisdiction (库管员): stock only, nothing personal.
    StockKeeper,
}

/// What a route needs beyond being logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Perm {
    /// Dashboard aggregates (counts, rates, the gazetteer).
    Aggregates,
    /// Aggregates without small-count suppression (roles that may see case rows anyway).
    Unsuppressed,
    /// Case-level rows: people, cases, imaging, treatment, follow-up.
    CaseRows,
    /// Animal registers: dogs, deworming, faecal tests, strays, slaughter, vaccination, rodents.
    AnimalRows,
    /// Taking data away: the export files (`/api/export`) and the OGC API (`/ogc`), and
    /// publishing what they show (a scan run by a role with it is the one `scan_clusters`
    /// exports). The county's desk roles have it (admin, epidemiologist, planner); the field roles
    /// (township staff, village doctors, vets) work inside the service, where every read is
    /// scoped and audited, and viewers only look. A township that needs files gets an
    /// epidemiologist account of the township.
    Export,
    /// Stock: stores, lots, stock on hand, the ledger, counts and the reconciliation, read
    /// (rows of the stores inside the jurisdiction).
    Stock,
    /// Stock movements and counts of the stores inside the jurisdiction (receive, issue,
    /// receive a transfer, hand out for a round, adjust, count).
    StockWrite,
    /// Users, tokens of others, the audit log, the stock catalogue and stores.
    Admin,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Epidemiologist,
        Role::TownshipStaff,
        Role::VillageDoctor,
        Role::Vet,
        Role::Planner,
        Role::Viewer,
        Role::StockKeeper,
    ];

    /// The one table of what each role may do.
    pub fn permissions(self) -> &'static [Perm] {
        use Perm::*;
        match self {
            Role::Admin => &[
                Aggregates,
                Unsuppressed,
                CaseRows,
                AnimalRows,
                Export,
                Stock,
                StockWrite,
                Admin,
            ],
            Role::Epidemiologist => &[
                Aggregates,
                Unsuppressed,
                CaseRows,
                AnimalRows,
                Export,
                Stock,
            ],
            Role::TownshipStaff => &[Aggregates, Unsuppressed, CaseRows, AnimalRows, Stock],
            // Their village: dogs, deworming, and the follow-ups of their patients.
            Role::VillageDoctor => &[Aggregates, Unsuppressed, CaseRows, AnimalRows],
            Role::Vet => &[Aggregates, AnimalRows, Stock],
            Role::Planner => &[Aggregates, Export],
            Role::Viewer => &[Aggregates],
            Role::StockKeeper => &[Aggregates, Stock, StockWrite],
        }
    }

    pub fn can(self, perm: Perm) -> bool {
        self.permissions().contains(&perm)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Epidemiologist => "epidemiologist",
            Role::TownshipStaff => "township_staff",
            Role::VillageDoctor => "village_doctor",
            Role::Vet => "vet",
            Role::Planner => "planner",
            Role::Viewer => "viewer",
            Role::StockKeeper => "stock_keeper",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The area a user answers for: every row they see lies inside it. Official codes nest by
/// prefix, so "inside" is a prefix test on the village code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    jurisdiction: PlaceCode,
}

impl Scope {
    pub fn new(jurisdiction: PlaceCode) -> Self {
        Self { jurisdiction }
    }

    /// The code prefix a village code must start with; bind it as `$n` in
    /// `v.code LIKE $n || '%'`.
    pub fn prefix(&self) -> &str {
        self.jurisdiction.as_str()
    }

    pub fn jurisdiction(&self) -> &PlaceCode {
        &self.jurisdiction
    }

    /// True when a unit (village, township or county code) lies inside the scope.
    pub fn covers(&self, code: &str) -> bool {
        code.starts_with(self.prefix())
    }
}

/// What a mini-program session may not do, whatever the account's role.
pub const MINI_PROGRAM_WITHOUT: [Perm; 2] = [Perm::Admin, Perm::Export];

/// The refusal of what a mini-program session may not do (administration, exports, binding
/// codes): 403 `forbidden`, as any permission the caller lacks (the clients word it already).
pub fn mini_program_refused() -> Error {
    Error::forbidden(
        "小程序会话不能进行此操作（管理、导出、绑定码），请在电脑端登录后操作 / a mini-program session may not do this (administration, exports, binding codes): use the dashboard",
    )
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub scope: Scope,
    pub via: AuthVia,
    /// An administrator reset the password: until the account chooses its own, it may only
    /// sign out and change it (`/api/auth/*`).
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVia {
    /// Browser session; writes need the same-origin check or the CSRF token.
    Session { csrf_token: String },
    /// `Authorization: Bearer`; not sent by browsers on their own, so no CSRF check.
    Token { token_id: i64 },
    /// `Authorization: Bearer` with a mini-program session (an API token of kind `wechat`,
    /// `auth::wechat`). It lives on a phone for 30 idle days, so it carries less than the
    /// account: no administration, no exports ([`Caller::can`]), no binding codes.
    WeChat { token_id: i64 },
}

impl Caller {
    /// What the role may do, less administration and exports for a mini-program session (the
    /// mini-program does neither; a lost phone should not hand them over).
    pub fn can(&self, perm: Perm) -> bool {
        self.role.can(perm) && !(self.is_mini_program() && MINI_PROGRAM_WITHOUT.contains(&perm))
    }

    /// The permissions of this caller: the role's, as [`Caller::can`] trims them.
    pub fn permissions(&self) -> Vec<Perm> {
        self.role
            .permissions()
            .iter()
            .copied()
            .filter(|p| self.can(*p))
            .collect()
    }

    /// The request came with a mini-program session.
    pub fn is_mini_program(&self) -> bool {
        matches!(self.via, AuthVia::WeChat { .. })
    }

    /// Who the caller is for the small-count rule: a role that may see case rows sees every
    /// count; anyone else inside the organisation sees counts of 1 to the inside maximum hidden.
    /// (What a caller exports for outside the organisation is [`Audience::Outside`], whoever
    /// asks.)
    pub fn audience(&self) -> Audience {
        if self.can(Perm::Unsuppressed) {
            Audience::CaseAccess
        } else {
            Audience::Inside
        }
    }

    pub fn require(&self, perm: Perm) -> Result<(), Error> {
        if self.can(perm) {
            Ok(())
        } else if self.role.can(perm) {
            Err(mini_program_refused())
        } else {
            Err(Error::forbidden(format!(
                "the role {} may not do this",
                self.role.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_roles_with_case_access_see_unsuppressed_counts() {
        for role in Role::ALL {
            assert_eq!(
                role.can(Perm::CaseRows),
                role.can(Perm::Unsuppressed),
                "{role:?}"
            );
        }
        assert!(!Role::Planner.can(Perm::CaseRows));
        assert!(!Role::Vet.can(Perm::CaseRows));
        assert!(Role::Vet.can(Perm::AnimalRows));
        assert!(Role::Admin.can(Perm::Admin) && !Role::Epidemiologist.can(Perm::Admin));
    }

    #[test]
    fn only_the_county_desk_roles_take_data_away() {
        let exporters: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can(Perm::Export))
            .collect();
        assert_eq!(
            exporters,
            [Role::Admin, Role::Epidemiologist, Role::Planner]
        );
    }

    #[test]
    fn a_township_scope_covers_its_villages_only() {
        let s = Scope::new(PlaceCode::parse("654022100").unwrap());
        assert!(s.covers("654022100200"));
        assert!(!s.covers("654022101200"));
        assert!(!s.covers("654022"));
    }

    #[test]
    fn a_mini_program_session_neither_administers_nor_exports() {
        let caller = |via| Caller {
            user_id: 1,
            username: "admin".to_owned(),
            role: Role::Admin,
            scope: Scope::new(PlaceCode::parse("654022").unwrap()),
            via,
            must_change_password: false,
        };
        let phone = caller(AuthVia::WeChat { token_id: 1 });
        let desk = caller(AuthVia::Token { token_id: 2 });
        assert!(desk.can(Perm::Admin) && desk.can(Perm::Export));
        assert!(!phone.can(Perm::Admin) && !phone.can(Perm::Export));
        assert!(phone.can(Perm::CaseRows) && phone.can(Perm::AnimalRows));
        assert!(!phone.permissions().contains(&Perm::Admin));
        assert_eq!(desk.permissions(), Role::Admin.permissions());
        assert!(phone.require(Perm::Export).is_err());
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }
}
