-- Authorizations in progress (StartAuthorization -> CompleteAuthorization): single use,
-- expiring. The PKCE verifier is sealed like the connection secrets.
CREATE TABLE oauth_states (
    state          TEXT PRIMARY KEY NOT NULL,
    connection_id  TEXT NOT NULL,
    app_key        TEXT NOT NULL,
    redirect_uri   TEXT,             -- NULL: no redirect, the user pastes the code
    verifier       BLOB NOT NULL,    -- sealed (src/store/secrets.rs)
    expires_at     INTEGER NOT NULL  -- unix seconds
);
