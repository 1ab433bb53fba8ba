//! [`UploadStore`] on the embedded SQLite database (table `resumable_uploads`).

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::sqlite::{from_micros, micros};
use super::{PendingAppend, ResumableUpload, SqliteStore, StoreError, UploadStore};

/// The key an upload is stored under: a leaked database must not hand out upload ids.
fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn pack(digests: &[[u8; 32]]) -> Vec<u8> {
    digests.concat()
}

fn unpack(raw: &[u8]) -> Result<Vec<[u8; 32]>, StoreError> {
    let chunks = raw.chunks_exact(32);
    if !chunks.remainder().is_empty() {
        return Err(StoreError::Corrupt(format!(
            "block digests of {} bytes are not whole 32-byte digests",
            raw.len()
        )));
    }
    Ok(chunks
        .map(|c| {
            let mut d = [0u8; 32];
            d.copy_from_slice(c);
            d
        })
        .collect())
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("size {v} is out of range")))
}

fn decode(id: String, row: &SqliteRow) -> Result<ResumableUpload, StoreError> {
    let target: String = row.try_get("target")?;
    let pending_offset: Option<i64> = row.try_get("pending_offset")?;
    let pending_digests: Option<Vec<u8>> = row.try_get("pending_digests")?;
    let pending = match (pending_offset, pending_digests) {
        (Some(offset), Some(digests)) => Some(PendingAppend {
            offset: to_u64(offset, "pending offset")?,
            digests: unpack(&digests)?,
        }),
        _ => None,
    };
    let block_digests: Vec<u8> = row.try_get("block_digests")?;
    Ok(ResumableUpload {
        id,
        connection_id: row.try_get("connection_id")?,
        owner: row.try_get("owner")?,
        target: serde_json::from_str(&target)
            .map_err(|e| StoreError::Corrupt(format!("upload target: {e}")))?,
        session_id: row.try_get("session_id")?,
        persisted_size: to_u64(row.try_get("persisted_size")?, "persisted size")?,
        block_digests: unpack(&block_digests)?,
        pending,
        result: row.try_get("result")?,
        create_time: from_micros(row.try_get("create_time")?)?,
        expire_time: from_micros(row.try_get("expire_time")?)?,
    })
}

impl SqliteStore {
    async fn update_one<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<(), StoreError> {
        let done = query.execute(&self.pool).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl UploadStore for SqliteStore {
    fn insert_upload(&self, u: ResumableUpload) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.delete_expired_uploads(OffsetDateTime::now_utc())
                .await?;
            let target = serde_json::to_string(&u.target)
                .map_err(|e| StoreError::Corrupt(format!("upload target: {e}")))?;
            sqlx::query(
                "INSERT INTO resumable_uploads (id_hash, connection_id, target, session_id, \
                 persisted_size, block_digests, result, create_time, expire_time, owner) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(id_hash(&u.id))
            .bind(&u.connection_id)
            .bind(target)
            .bind(&u.session_id)
            .bind(to_i64(u.persisted_size)?)
            .bind(pack(&u.block_digests))
            .bind(&u.result)
            .bind(micros(u.create_time))
            .bind(micros(u.expire_time))
            .bind(&u.owner)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn get_upload(&self, id: String) -> BoxFuture<'_, Result<Option<ResumableUpload>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM resumable_uploads WHERE id_hash = ?1")
                .bind(id_hash(&id))
                .fetch_optional(&self.pool)
                .await?;
            row.map(|r| decode(id, &r)).transpose()
        })
    }

    fn set_pending_append(
        &self,
        id: String,
        pending: PendingAppend,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.update_one(
                sqlx::query(
                    "UPDATE resumable_uploads SET pending_offset = ?2, pending_digests = ?3 \
                     WHERE id_hash = ?1",
                )
                .bind(id_hash(&id))
                .bind(to_i64(pending.offset)?)
                .bind(pack(&pending.digests)),
            )
            .await
        })
    }

    fn record_persisted(
        &self,
        id: String,
        persisted_size: u64,
        block_digests: Vec<[u8; 32]>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.update_one(
                sqlx::query(
                    "UPDATE resumable_uploads SET persisted_size = ?2, block_digests = ?3, \
                     pending_offset = NULL, pending_digests = NULL WHERE id_hash = ?1",
                )
                .bind(id_hash(&id))
                .bind(to_i64(persisted_size)?)
                .bind(pack(&block_digests)),
            )
            .await
        })
    }

    fn record_result(&self, id: String, result: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.update_one(
                sqlx::query("UPDATE resumable_uploads SET result = ?2 WHERE id_hash = ?1")
                    .bind(id_hash(&id))
                    .bind(result),
            )
            .await
        })
    }

    fn delete_upload(&self, id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.update_one(
                sqlx::query("DELETE FROM resumable_uploads WHERE id_hash = ?1").bind(id_hash(&id)),
            )
            .await
        })
    }

    fn delete_expired_uploads(
        &self,
        now: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM resumable_uploads WHERE expire_time < ?1")
                .bind(micros(now))
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Sealer, UploadTarget};

    fn upload(id: &str, expire_in: time::Duration) -> ResumableUpload {
        let now = OffsetDateTime::now_utc();
        ResumableUpload {
            id: id.into(),
            connection_id: "c1".into(),
            owner: "reports".into(),
            target: UploadTarget {
                path: "/a/b.bin".into(),
                overwrite: "always".into(),
                size: Some(10),
                ..Default::default()
            },
            session_id: "s1".into(),
            persisted_size: 0,
            block_digests: vec![],
            pending: None,
            result: None,
            create_time: now,
            expire_time: now + expire_in,
        }
    }

    #[tokio::test]
    async fn uploads_round_trip_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db"), Sealer::generate().0)
            .await
            .unwrap();
        store
            .insert_upload(upload("live", time::Duration::days(7)))
            .await
            .unwrap();
        store
            .insert_upload(upload("old", time::Duration::seconds(-1)))
            .await
            .unwrap();
        let pending = PendingAppend {
            offset: 0,
            digests: vec![[7; 32], [8; 32]],
        };
        store
            .set_pending_append("live".into(), pending.clone())
            .await
            .unwrap();
        let got = store.get_upload("live".into()).await.unwrap().unwrap();
        assert_eq!(got.pending, Some(pending));
        store
            .record_persisted("live".into(), 8 << 20, vec![[7; 32], [8; 32]])
            .await
            .unwrap();
        let got = store.get_upload("live".into()).await.unwrap().unwrap();
        assert_eq!(
            (got.persisted_size, got.block_digests.len(), got.pending),
            (8 << 20, 2, None)
        );
        assert_eq!(got.target.path, "/a/b.bin");
        assert_eq!(got.owner, "reports");
        // The id is not stored in the clear.
        let raw: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM resumable_uploads")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert!(raw.iter().all(|h| h.len() == 64 && h != "live"));
        assert_eq!(
            store
                .delete_expired_uploads(OffsetDateTime::now_utc())
                .await
                .unwrap(),
            1
        );
        assert!(store.get_upload("old".into()).await.unwrap().is_none());
        store.delete_upload("live".into()).await.unwrap();
        assert!(matches!(
            store.delete_upload("live".into()).await,
            Err(StoreError::NotFound)
        ));
    }
}
