//! users/get_current_account, users/get_space_usage, auth/token/revoke and the two team
//! routes a Business integration needs to find its members.

use axum::response::Response;
use serde_json::{Value, json};

use super::Ctx;
use crate::wire::{self, ApiError};

pub fn current_account(ctx: Ctx) -> Result<Response, ApiError> {
    Ok(wire::json_ok(&ctx.caller()?.account.full_account()))
}

pub fn space_usage(ctx: Ctx) -> Result<Response, ApiError> {
    let caller = ctx.caller()?;
    let used: u64 = {
        let data = ctx.st.data();
        caller
            .namespaces
            .iter()
            .filter_map(|ns| data.tree.ns(ns))
            .flat_map(|space| space.entries.values())
            .filter_map(|n| n.file.as_ref().map(|f| f.size))
            .sum()
    };
    Ok(wire::json_ok(&json!({
        "used": used,
        "allocation": { ".tag": "individual", "allocated": 2u64 << 40 },
    })))
}

pub async fn revoke(ctx: Ctx) -> Result<Response, ApiError> {
    ctx.st.data().tokens.revoke(&ctx.token);
    ctx.st.persist().await;
    Ok(wire::json_ok(&Value::Null))
}

fn team_only(ctx: &Ctx) -> Result<(), ApiError> {
    if ctx.caller.is_some() {
        return Err(ApiError::bad(
            "This API function operates on a Dropbox Business team; the token is for a user.",
        ));
    }
    Ok(())
}

pub fn team_info(ctx: Ctx) -> Result<Response, ApiError> {
    team_only(&ctx)?;
    let data = ctx.st.data();
    let Some(team) = &data.dir.team else {
        return Err(ApiError::auth("invalid_access_token"));
    };
    Ok(wire::json_ok(&json!({
        "name": team.name,
        "team_id": team.team_id,
        "num_licensed_users": 10,
        "num_provisioned_users": data.dir.members().count(),
        "num_used_licenses": data.dir.members().count(),
        "policies": {
            "sharing": {
                "shared_folder_member_policy": {".tag": "anyone"},
                "shared_folder_join_policy": {".tag": "from_anyone"},
                "shared_link_create_policy": {".tag": "default_public"},
            },
            "emm_state": {".tag": "disabled"},
            "office_addin": {".tag": "disabled"},
        },
    })))
}

pub fn team_members(ctx: Ctx) -> Result<Response, ApiError> {
    team_only(&ctx)?;
    let data = ctx.st.data();
    let members: Vec<Value> = data
        .dir
        .members()
        .map(|a| {
            json!({
                "profile": {
                    "team_member_id": a.team_member_id,
                    "account_id": a.account_id,
                    "email": a.email,
                    "email_verified": true,
                    "status": {".tag": "active"},
                    "name": {
                        "given_name": a.given_name,
                        "surname": a.surname,
                        "familiar_name": a.given_name,
                        "display_name": a.display_name(),
                        "abbreviated_name": format!("{}{}", a.given_name.chars().next().unwrap_or('X'), a.surname.chars().next().unwrap_or('X')),
                    },
                    "membership_type": {".tag": "full"},
                    "member_folder_id": a.home_namespace_id,
                    "root_folder_id": a.root_namespace_id,
                    "groups": [],
                },
                "roles": [{
                    "role_id": if a.is_admin { "pid_dbtmr:admin" } else { "pid_dbtmr:member" },
                    "name": if a.is_admin { "Team admin" } else { "Member" },
                    "description": "",
                }],
            })
        })
        .collect();
    Ok(wire::json_ok(&json!({
        "members": members,
        "cursor": "",
        "has_more": false,
    })))
}
