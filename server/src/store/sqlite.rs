//! The embedded default store: one SQLite file, `connections.db`, under the data dir.

use std::path::Path;
use std::str::FromStr;

use futures::future::BoxFuture;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use time::OffsetDateTime;

use super::{
    ConnectionPage, ConnectionRecord, ConnectionStore, NewConnection, StoreError, secrets,
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

const COLUMNS: &str =
    "id, display_name, group_name, settings, secrets, revision, create_time, update_time";

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(file: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
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
        Ok(SqliteStore { pool })
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
        row.as_ref().map(decode_row).transpose()
    }
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(v: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1000)
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {v}: {e}")))
}

fn now() -> OffsetDateTime {
    // Microsecond precision, so that what is returned equals what a later read gives.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

fn decode_row(row: &SqliteRow) -> Result<ConnectionRecord, StoreError> {
    let settings: String = row.try_get("settings")?;
    let sealed: Vec<u8> = row.try_get("secrets")?;
    Ok(ConnectionRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        group: row.try_get("group_name")?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secrets: secrets::unseal(&sealed)?,
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
            .bind(secrets::seal(&record.secrets)?)
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
            let mut connections = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
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
            .bind(secrets::seal(&record.secrets)?)
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
            let mut s = secrets::unseal(&sealed)?;
            s.access_token = Some(access_token);
            s.access_token_expires_at = expires_at;
            sqlx::query("UPDATE connections SET secrets = ?2 WHERE id = ?1")
                .bind(&id)
                .bind(secrets::seal(&s)?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Secrets, Settings};

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
        let store = SqliteStore::open(&dir.path().join("sub/connections.db"))
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

        store.delete(a.id.clone()).await.unwrap();
        assert!(matches!(
            store.delete(a.id).await,
            Err(StoreError::NotFound)
        ));
    }
}
