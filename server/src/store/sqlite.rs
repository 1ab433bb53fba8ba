//! The embedded default store: one SQLite file, `connections.db`, under the data dir.

use std::path::Path;
use std::str::FromStr;

use futures::future::BoxFuture;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use time::OffsetDateTime;

use super::files::{self, StoreLock};
use super::secrets::{self, Sealer};
use super::{
    ConnectionPage, ConnectionRecord, ConnectionStore, NewConnection, PendingAuthorization,
    StoreError,
};

/// `Debug` shows the pool and the key id, never the key.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    sealer: Sealer,
}

const COLUMNS: &str =
    "id, display_name, group_name, settings, secrets, revision, create_time, update_time";

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    /// Refuses a store whose secrets a server must not read: legacy plain values (only
    /// `migrate-secrets` reads those) and values sealed under another key.
    pub async fn open(file: &Path, sealer: Sealer) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore::open_unchecked(file, sealer).await?;
        if let Err(e) = store.check_secrets().await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    async fn open_unchecked(file: &Path, sealer: Sealer) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            files::create_private_dir(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        files::prepare_private_db(file).map_err(|e| {
            StoreError::Corrupt(format!("cannot make {} private: {e}", file.display()))
        })?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(SqliteStore { pool, sealer })
    }

    /// The id of the key this store seals with.
    pub fn key_id(&self) -> &str {
        self.sealer.key_id()
    }

    async fn check_secrets(&self) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT id, secrets FROM connections")
            .fetch_all(&self.pool)
            .await?;
        let mut plain = 0;
        for row in rows {
            let sealed: Vec<u8> = row.try_get("secrets")?;
            if !self.sealer.needs_reseal(&sealed) {
                continue;
            }
            if secrets::is_legacy_plain(&sealed) {
                plain += 1;
            } else {
                // Names the key the value was sealed with (or what else is wrong).
                let id: String = row.try_get("id")?;
                self.sealer.unseal(&sealed, &id)?;
            }
        }
        if plain > 0 {
            return Err(StoreError::LegacyPlaintext(plain));
        }
        Ok(())
    }

    /// Rewrites, in one transaction, the secrets of every connection for which `reseal`
    /// gives new bytes. Returns how many were rewritten.
    async fn rewrite_secrets(
        &self,
        reseal: impl Fn(&str, &[u8]) -> Result<Option<Vec<u8>>, StoreError>,
        drop_pending_authorizations: bool,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, secrets FROM connections")
            .fetch_all(&mut *tx)
            .await?;
        let mut n = 0;
        for row in rows {
            let id: String = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("secrets")?;
            let Some(resealed) = reseal(&id, &sealed)? else {
                continue;
            };
            sqlx::query("UPDATE connections SET secrets = ?2 WHERE id = ?1")
                .bind(&id)
                .bind(resealed)
                .execute(&mut *tx)
                .await?;
            n += 1;
        }
        if drop_pending_authorizations {
            sqlx::query("DELETE FROM oauth_states")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn fetch_one_where(
        &self,
        column: &str,
        value: String,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM connections WHERE {column} = ?1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(|r| decode_row(r, &self.sealer))
            .transpose()
    }
}

/// `dropbox-connector rotate-key`: re-seals every stored secret of the database `file`
/// from the key `old` to the key `new`, in one transaction, holding the store's lock (so
/// it refuses while a server runs on the store). Authorizations in progress are dropped
/// (they live 10 minutes; start again). Returns how many connections were re-sealed.
pub async fn rotate_key(file: &Path, old: Sealer, new: Sealer) -> Result<usize, StoreError> {
    let _lock = StoreLock::acquire(file)?;
    let store = SqliteStore::open_unchecked(file, old).await?;
    let n = store
        .rewrite_secrets(
            |id, sealed| {
                let plain = store.sealer.unseal(sealed, id)?;
                Ok(Some(new.seal(&plain, id)?))
            },
            true,
        )
        .await;
    store.close().await;
    n
}

/// `dropbox-connector migrate-secrets`: seals, under `sealer`, the secrets still stored in
/// the legacy plain format, in one transaction, holding the store's lock. The one reader
/// of plain secrets. Returns how many connections were sealed.
pub async fn migrate_secrets(file: &Path, sealer: Sealer) -> Result<usize, StoreError> {
    let _lock = StoreLock::acquire(file)?;
    let store = SqliteStore::open_unchecked(file, sealer).await?;
    let n = store
        .rewrite_secrets(
            |id, stored| {
                if !secrets::is_legacy_plain(stored) {
                    return Ok(None);
                }
                let plain = store.sealer.open_legacy(stored, id)?;
                Ok(Some(store.sealer.seal(&plain, id)?))
            },
            false,
        )
        .await;
    if let Ok(sealed) = &n {
        tracing::info!(
            connections = sealed,
            "sealed secrets that were stored in the legacy plain format"
        );
    }
    store.close().await;
    n
}

pub(super) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

pub(super) fn from_micros(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000)
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {v}: {e}")))
}

fn now() -> OffsetDateTime {
    // Microsecond precision, so that what is returned equals what a later read gives.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

fn decode_row(row: &SqliteRow, sealer: &Sealer) -> Result<ConnectionRecord, StoreError> {
    let settings: String = row.try_get("settings")?;
    let sealed: Vec<u8> = row.try_get("secrets")?;
    let id: String = row.try_get("id")?;
    Ok(ConnectionRecord {
        secrets: sealer.unseal(&sealed, &id)?,
        id,
        display_name: row.try_get("display_name")?,
        group: row.try_get("group_name")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        revision: row.try_get("revision")?,
        create_time: from_micros(row.try_get("create_time")?)?,
        update_time: from_micros(row.try_get("update_time")?)?,
    })
}

fn name_taken(e: sqlx::Error, name: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::NameTaken(name.to_owned())
        }
        _ => StoreError::Database(e),
    }
}

fn settings_json(record: &super::Settings) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl ConnectionStore for SqliteStore {
    fn create(&self, new: NewConnection) -> BoxFuture<'_, Result<ConnectionRecord, StoreError>> {
        Box::pin(async move {
            let t = now();
            let record = ConnectionRecord {
                id: uuid::Uuid::new_v4().simple().to_string(),
                display_name: new.display_name,
                group: new.group,
                settings: new.settings,
                secrets: new.secrets,
                revision: 1,
                create_time: t,
                update_time: t,
            };
            sqlx::query(&format!(
                "INSERT INTO connections ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .bind(&record.id)
            .bind(&record.display_name)
            .bind(&record.group)
            .bind(settings_json(&record.settings)?)
            .bind(self.sealer.seal(&record.secrets, &record.id)?)
            .bind(record.revision)
            .bind(micros(t))
            .bind(micros(t))
            .execute(&self.pool)
            .await
            .map_err(|e| name_taken(e, &record.display_name))?;
            Ok(record)
        })
    }

    fn get(&self, id: String) -> BoxFuture<'_, Result<Option<ConnectionRecord>, StoreError>> {
        Box::pin(self.fetch_one_where("id", id))
    }

    fn get_by_name(
        &self,
        display_name: String,
    ) -> BoxFuture<'_, Result<Option<ConnectionRecord>, StoreError>> {
        Box::pin(self.fetch_one_where("display_name", display_name))
    }

    fn list(
        &self,
        group: Option<String>,
        after: Option<String>,
        limit: u32,
    ) -> BoxFuture<'_, Result<ConnectionPage, StoreError>> {
        Box::pin(async move {
            // One row more than asked tells whether another page exists.
            let sql = format!(
                "SELECT {COLUMNS} FROM connections \
                 WHERE (?1 IS NULL OR group_name = ?1) AND (?2 IS NULL OR display_name > ?2) \
                 ORDER BY display_name LIMIT ?3"
            );
            let rows = sqlx::query(&sql)
                .bind(group)
                .bind(after)
                .bind(i64::from(limit) + 1)
                .fetch_all(&self.pool)
                .await?;
            let mut connections = rows
                .iter()
                .map(|r| decode_row(r, &self.sealer))
                .collect::<Result<Vec<_>, _>>()?;
            let next_after = if connections.len() > limit as usize {
                connections.truncate(limit as usize);
                connections.last().map(|c| c.display_name.clone())
            } else {
                None
            };
            Ok(ConnectionPage {
                connections,
                next_after,
            })
        })
    }

    fn update(
        &self,
        record: ConnectionRecord,
    ) -> BoxFuture<'_, Result<ConnectionRecord, StoreError>> {
        Box::pin(async move {
            let mut record = record;
            record.update_time = now();
            let row = sqlx::query(
                "UPDATE connections SET display_name = ?2, group_name = ?3, settings = ?4, secrets = ?5, \
                 revision = revision + 1, update_time = ?6 WHERE id = ?1 RETURNING revision",
            )
            .bind(&record.id)
            .bind(&record.display_name)
            .bind(&record.group)
            .bind(settings_json(&record.settings)?)
            .bind(self.sealer.seal(&record.secrets, &record.id)?)
            .bind(micros(record.update_time))
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| name_taken(e, &record.display_name))?;
            let row = row.ok_or(StoreError::NotFound)?;
            record.revision = row.try_get("revision")?;
            Ok(record)
        })
    }

    fn delete(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM connections WHERE id = ?1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            if done.rows_affected() == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }

    fn save_access_token(
        &self,
        id: String,
        access_token: String,
        expires_at: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // Read-modify-write in one transaction so a concurrent user update is not lost.
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("SELECT secrets FROM connections WHERE id = ?1")
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let sealed: Vec<u8> = row.try_get("secrets")?;
            let mut s = self.sealer.unseal(&sealed, &id)?;
            s.access_token = Some(access_token);
            s.access_token_expires_at = expires_at;
            sqlx::query("UPDATE connections SET secrets = ?2 WHERE id = ?1")
                .bind(&id)
                .bind(self.sealer.seal(&s, &id)?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn set_needs_reauthorization(
        &self,
        id: String,
        flag: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("SELECT settings FROM connections WHERE id = ?1")
                .bind(&id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
            let text: String = row.try_get("settings")?;
            let mut settings: super::Settings =
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            settings.needs_reauthorization = flag;
            sqlx::query("UPDATE connections SET settings = ?2 WHERE id = ?1")
                .bind(&id)
                .bind(settings_json(&settings)?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn put_pending_authorization(
        &self,
        p: PendingAuthorization,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            sqlx::query("DELETE FROM oauth_states WHERE expires_at < ?1")
                .bind(now)
                .execute(&self.pool)
                .await?;
            sqlx::query(
                "INSERT INTO oauth_states (state, connection_id, app_key, redirect_uri, verifier, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&p.state)
            .bind(&p.connection_id)
            .bind(&p.app_key)
            .bind(&p.redirect_uri)
            .bind(
                self.sealer
                    .seal_bytes(p.verifier.as_bytes(), &format!("oauth:{}", p.state))?,
            )
            .bind(p.expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn take_pending_authorization(
        &self,
        state: String,
    ) -> BoxFuture<'_, Result<Option<PendingAuthorization>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(
                "DELETE FROM oauth_states WHERE state = ?1 \
                 RETURNING state, connection_id, app_key, redirect_uri, verifier, expires_at",
            )
            .bind(&state)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let sealed: Vec<u8> = row.try_get("verifier")?;
            let verifier = self
                .sealer
                .unseal_bytes(&sealed, &format!("oauth:{state}"))?;
            Ok(Some(PendingAuthorization {
                state: row.try_get("state")?,
                connection_id: row.try_get("connection_id")?,
                app_key: row.try_get("app_key")?,
                redirect_uri: row.try_get("redirect_uri")?,
                verifier: String::from_utf8(verifier)
                    .map_err(|_| StoreError::Corrupt("PKCE verifier is not UTF-8".into()))?,
                expires_at: row.try_get("expires_at")?,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Secrets, Settings};

    #[tokio::test]
    async fn legacy_plain_secrets_are_refused_until_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("connections.db");
        let (sealer, _) = Sealer::generate();
        let store = SqliteStore::open(&file, sealer.clone()).await.unwrap();
        let made = store.create(new("old", "g")).await.unwrap();
        let kept = store.create(new("sealed", "g")).await.unwrap();
        let mut plain = vec![1u8];
        plain.extend(serde_json::to_vec(&made.secrets).unwrap());
        sqlx::query("UPDATE connections SET secrets = ?2 WHERE id = ?1")
            .bind(&made.id)
            .bind(&plain)
            .execute(&store.pool)
            .await
            .unwrap();
        // A plain row met after start fails clearly, naming the command.
        let e = store.get(made.id.clone()).await.unwrap_err();
        assert!(e.to_string().contains("migrate-secrets"), "{e}");
        store.close().await;

        let e = SqliteStore::open(&file, sealer.clone()).await.unwrap_err();
        assert!(matches!(e, StoreError::LegacyPlaintext(1)), "{e}");
        assert!(e.to_string().contains("migrate-secrets"), "{e}");
        // Rotation does not read plaintext either.
        let e = rotate_key(&file, sealer.clone(), Sealer::generate().0)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("migrate-secrets"), "{e}");

        assert_eq!(migrate_secrets(&file, sealer.clone()).await.unwrap(), 1);
        assert_eq!(migrate_secrets(&file, sealer.clone()).await.unwrap(), 0);
        let store = SqliteStore::open(&file, sealer.clone()).await.unwrap();
        let row = sqlx::query("SELECT secrets FROM connections WHERE id = ?1")
            .bind(&made.id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let blob: Vec<u8> = row.try_get("secrets").unwrap();
        assert_eq!(blob[0], 2);
        assert!(!sealer.needs_reseal(&blob));
        assert_eq!(
            store.get(made.id.clone()).await.unwrap().unwrap().secrets,
            made.secrets
        );
        assert_eq!(store.get(kept.id.clone()).await.unwrap().unwrap(), kept);
    }

    fn new(name: &str, group: &str) -> NewConnection {
        NewConnection {
            display_name: name.into(),
            group: group.into(),
            settings: Settings {
                timeout_seconds: 60,
                ..Default::default()
            },
            secrets: Secrets {
                access_token: Some("tok".into()),
                ..Default::default()
            },
        }
    }

    #[tokio::test]
    async fn crud_paging_and_unique_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("sub/connections.db"), Sealer::generate().0)
            .await
            .unwrap();
        let a = store.create(new("a", "g1")).await.unwrap();
        store.create(new("b", "g2")).await.unwrap();
        store.create(new("c", "g1")).await.unwrap();
        assert!(matches!(
            store.create(new("a", "g3")).await,
            Err(StoreError::NameTaken(_))
        ));

        assert_eq!(store.get(a.id.clone()).await.unwrap().unwrap(), a);
        assert_eq!(
            store.get_by_name("a".into()).await.unwrap().unwrap().id,
            a.id
        );
        assert!(store.get_by_name("zzz".into()).await.unwrap().is_none());

        let p1 = store.list(None, None, 2).await.unwrap();
        assert_eq!(
            p1.connections
                .iter()
                .map(|c| c.display_name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        let p2 = store.list(None, p1.next_after, 2).await.unwrap();
        assert_eq!(p2.connections.len(), 1);
        assert!(p2.next_after.is_none());
        let g1 = store.list(Some("g1".into()), None, 10).await.unwrap();
        assert_eq!(g1.connections.len(), 2);

        let mut changed = a.clone();
        changed.group = "g9".into();
        let updated = store.update(changed).await.unwrap();
        assert_eq!(updated.revision, 2);
        let mut clash = updated.clone();
        clash.display_name = "b".into();
        assert!(matches!(
            store.update(clash).await,
            Err(StoreError::NameTaken(_))
        ));

        store
            .save_access_token(a.id.clone(), "fresh".into(), Some(7))
            .await
            .unwrap();
        let after = store.get(a.id.clone()).await.unwrap().unwrap();
        assert_eq!(after.secrets.access_token.as_deref(), Some("fresh"));
        assert_eq!(
            after.revision, 2,
            "token refresh does not move the revision"
        );

        // Authorizations in progress: single use.
        let pending = PendingAuthorization {
            state: "st".into(),
            connection_id: a.id.clone(),
            app_key: "k".into(),
            redirect_uri: None,
            verifier: "verifier-value".into(),
            expires_at: i64::MAX,
        };
        store
            .put_pending_authorization(pending.clone())
            .await
            .unwrap();
        assert_eq!(
            store.take_pending_authorization("st".into()).await.unwrap(),
            Some(pending)
        );
        assert_eq!(
            store.take_pending_authorization("st".into()).await.unwrap(),
            None
        );
        store
            .set_needs_reauthorization(a.id.clone(), true)
            .await
            .unwrap();
        assert!(
            store
                .get(a.id.clone())
                .await
                .unwrap()
                .unwrap()
                .settings
                .needs_reauthorization
        );

        store.delete(a.id.clone()).await.unwrap();
        assert!(matches!(
            store.delete(a.id).await,
            Err(StoreError::NotFound)
        ));
    }
}
