//! Seeded accounts: personal accounts (one per `--token`) and an optional Business team
//! with an admin, two members and a team space. Ids derive from the tokens, so a data dir
//! maps to the same accounts after a restart.

use base64::Engine;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Personal,
    Member,
}

/// A user account.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    pub account_id: String,
    pub email: String,
    pub given_name: String,
    pub surname: String,
    pub kind: Kind,
    /// The never-expiring token given with `--token` (personal accounts).
    pub access_token: Option<String>,
    pub team_member_id: Option<String>,
    pub is_admin: bool,
    pub home_namespace_id: String,
    pub root_namespace_id: String,
    /// `/Given Surname` for team members (home folder inside the team space).
    pub home_path: Option<String>,
}

impl Account {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    /// Namespaces this account can address.
    pub fn can_access(&self, ns: &str) -> bool {
        ns == self.home_namespace_id || ns == self.root_namespace_id
    }

    /// The users/get_current_account answer (FullAccount).
    pub fn full_account(&self) -> Value {
        let display = self.display_name();
        let abbreviated: String = [&self.given_name, &self.surname]
            .iter()
            .filter_map(|s| s.chars().next())
            .collect();
        let mut v = json!({
            "account_id": self.account_id,
            "name": {
                "given_name": self.given_name,
                "surname": self.surname,
                "familiar_name": self.given_name,
                "display_name": display,
                "abbreviated_name": abbreviated,
            },
            "email": self.email,
            "email_verified": true,
            "disabled": false,
            "country": "US",
            "locale": "en",
            "referral_link": "https://www.dropbox.com/referrals/emulator",
            "is_paired": false,
            "account_type": { ".tag": if self.kind == Kind::Member { "business" } else { "basic" } },
            "root_info": self.root_info(),
        });
        if let (Some(obj), Some(mid)) = (v.as_object_mut(), &self.team_member_id) {
            obj.insert("team_member_id".into(), json!(mid));
        }
        v
    }

    /// RootInfo union (`user` or `team`).
    pub fn root_info(&self) -> Value {
        match &self.home_path {
            Some(home_path) => json!({
                ".tag": "team",
                "root_namespace_id": self.root_namespace_id,
                "home_namespace_id": self.home_namespace_id,
                "home_path": home_path,
            }),
            None => json!({
                ".tag": "user",
                "root_namespace_id": self.root_namespace_id,
                "home_namespace_id": self.home_namespace_id,
            }),
        }
    }
}

/// The Business team.
#[derive(Clone, Debug, Serialize)]
pub struct Team {
    pub team_id: String,
    pub name: String,
    pub team_token: String,
    pub admin_member_id: String,
    pub team_space_namespace_id: String,
}

/// Every account and the team.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub accounts: Vec<Account>,
    pub team: Option<Team>,
}

fn digest(seed: &str) -> [u8; 32] {
    Sha256::digest(seed.as_bytes()).into()
}

fn b64_id(prefix: &str, seed: &str, len: usize) -> String {
    let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest(seed));
    format!("{prefix}{}", &s[..len.min(s.len())])
}

fn numeric_id(seed: &str) -> String {
    let d = digest(seed);
    let mut n = 0u64;
    for b in &d[..8] {
        n = (n << 8) | u64::from(*b);
    }
    format!("{}", 1_000_000_000 + n % 9_000_000_000)
}

impl Directory {
    pub fn seed(tokens: &[String], team_token: Option<&str>) -> Directory {
        let mut dir = Directory::default();
        for (i, token) in tokens.iter().enumerate() {
            dir.add_personal(token, i + 1);
        }
        if let Some(team_token) = team_token {
            dir.add_team(team_token);
        }
        dir
    }

    pub fn add_personal(&mut self, token: &str, n: usize) -> Account {
        let seed = format!("personal:{token}");
        let ns = numeric_id(&format!("{seed}:ns"));
        let account = Account {
            account_id: b64_id("dbid:", &seed, 35),
            email: format!("user{n}@example.com"),
            given_name: "Emulator".into(),
            surname: format!("User {n}"),
            kind: Kind::Personal,
            access_token: Some(token.to_string()),
            team_member_id: None,
            is_admin: false,
            home_namespace_id: ns.clone(),
            root_namespace_id: ns,
            home_path: None,
        };
        self.accounts.push(account.clone());
        account
    }

    fn add_team(&mut self, token: &str) {
        let seed = format!("team:{token}");
        let team_space = numeric_id(&format!("{seed}:space"));
        let people = [
            ("Team", "Admin", "admin", true),
            ("Member", "One", "member1", false),
            ("Member", "Two", "member2", false),
        ];
        let mut admin_member_id = String::new();
        for (given, surname, handle, is_admin) in people {
            let mseed = format!("{seed}:{handle}");
            let member_id = b64_id("dbmid:", &mseed, 40);
            if is_admin {
                admin_member_id = member_id.clone();
            }
            self.accounts.push(Account {
                account_id: b64_id("dbid:", &mseed, 35),
                email: format!("{handle}@team.example.com"),
                given_name: given.into(),
                surname: surname.into(),
                kind: Kind::Member,
                access_token: None,
                team_member_id: Some(member_id),
                is_admin,
                home_namespace_id: numeric_id(&format!("{mseed}:home")),
                root_namespace_id: team_space.clone(),
                home_path: Some(format!("/{given} {surname}")),
            });
        }
        self.team = Some(Team {
            team_id: b64_id("dbtid:", &seed, 35),
            name: "Emulator Team".into(),
            team_token: token.to_string(),
            admin_member_id,
            team_space_namespace_id: team_space,
        });
    }

    pub fn by_id(&self, account_id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.account_id == account_id)
    }

    pub fn by_static_token(&self, token: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.access_token.as_deref() == Some(token))
    }

    pub fn by_member_id(&self, member_id: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.team_member_id.as_deref() == Some(member_id))
    }

    pub fn members(&self) -> impl Iterator<Item = &Account> {
        self.accounts.iter().filter(|a| a.kind == Kind::Member)
    }

    /// Every namespace id that exists.
    pub fn namespaces(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in &self.accounts {
            for ns in [&a.home_namespace_id, &a.root_namespace_id] {
                if !out.contains(ns) {
                    out.push(ns.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_dropbox_shapes() {
        let d = Directory::seed(&["t1".into(), "t2".into()], Some("team"));
        assert_eq!(d.accounts.len(), 5);
        for a in &d.accounts {
            assert_eq!(a.account_id.len(), 40, "{}", a.account_id);
            assert!(a.account_id.starts_with("dbid:"));
        }
        let again = Directory::seed(&["t1".into()], None);
        assert_eq!(again.accounts[0].account_id, d.accounts[0].account_id);
        let team = d.team.as_ref().unwrap();
        assert_eq!(d.members().count(), 3);
        assert!(d.by_member_id(&team.admin_member_id).unwrap().is_admin);
    }
}
