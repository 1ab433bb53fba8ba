//! [`UploadStore`] on the embedded SQLite database (tables `resumable_uploads` and
//! `resumable_upload_blocks`, one row per persisted block).

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

async fn insert_block(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    key: &str,
    idx: u64,
    digest: &[u8; 32],
) -> Result<(), StoreError> {
    // OR REPLACE: recording the same block again (a retried record) is not an error.
    sqlx::query(
        "INSERT OR REPLACE INTO resumable_upload_blocks (upload, idx, sha256) VALUES (?1, ?2, ?3)",
    )
    .bind(key)
    .bind(to_i64(idx)?)
    .bind(digest.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}: {v}")))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("size {v} is out of range")))
}

fn decode(
    id: String,
    row: &SqliteRow,
    blocks: Vec<[u8; 32]>,
) -> Result<ResumableUpload, StoreError> {
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
    // Blocks live in their own table; a blob here predates it (the migration empties it).
    let legacy: Vec<u8> = row.try_get("block_digests")?;
    let mut block_digests = unpack(&legacy)?;
    block_digests.extend(blocks);
    Ok(ResumableUpload {
        id,
        connection_id: row.try_get("connection_id")?,
        owner: row.try_get("owner")?,
        target: serde_json::from_str(&target)
            .map_err(|e| StoreError::Corrupt(format!("upload target: {e}")))?,
        session_id: row.try_get("session_id")?,
        persisted_size: to_u64(row.try_get("persisted_size")?, "persisted size")?,
        block_digests,
        pending,
        result: row.try_get("result")?,
        create_time: from_micros(row.try_get("create_time")?)?,
        expire_time: from_micros(row.try_get("expire_time")?)?,
    })
}

impl SqliteStore {
    /// The block digests of an upload, in file order.
    async fn blocks(&self, key: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT sha256 FROM resumable_upload_blocks WHERE upload = ?1 ORDER BY idx",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for raw in rows {
            out.extend(unpack(&raw)?);
        }
        Ok(out)
    }

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
            let key = id_hash(&u.id);
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO resumable_uploads (id_hash, connection_id, target, session_id, \
                 persisted_size, block_digests, result, create_time, expire_time, owner) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(&key)
            .bind(&u.connection_id)
            .bind(target)
            .bind(&u.session_id)
            .bind(to_i64(u.persisted_size)?)
            .bind(Vec::<u8>::new())
            .bind(&u.result)
            .bind(micros(u.create_time))
            .bind(micros(u.expire_time))
            .bind(&u.owner)
            .execute(&mut *tx)
            .await?;
            for (idx, digest) in u.block_digests.iter().enumerate() {
                insert_block(&mut tx, &key, idx as u64, digest).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn get_upload(&self, id: String) -> BoxFuture<'_, Result<Option<ResumableUpload>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT * FROM resumable_uploads WHERE id_hash = ?1")
                .bind(id_hash(&id))
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let blocks = self.blocks(&id_hash(&id)).await?;
            decode(id, &row, blocks).map(Some)
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

    fn record_appended(
        &self,
        id: String,
        persisted_size: u64,
        first_block: u64,
        appended: Vec<[u8; 32]>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let key = id_hash(&id);
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "UPDATE resumable_uploads SET persisted_size = ?2, \
                 pending_offset = NULL, pending_digests = NULL WHERE id_hash = ?1",
            )
            .bind(&key)
            .bind(to_i64(persisted_size)?)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            for (i, digest) in appended.iter().enumerate() {
                insert_block(&mut tx, &key, first_block + i as u64, digest).await?;
            }
            tx.commit().await?;
            Ok(())
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
            let key = id_hash(&id);
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM resumable_upload_blocks WHERE upload = ?1")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query("DELETE FROM resumable_uploads WHERE id_hash = ?1")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn delete_expired_uploads(
        &self,
        now: OffsetDateTime,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "DELETE FROM resumable_upload_blocks WHERE upload IN \
                 (SELECT id_hash FROM resumable_uploads WHERE expire_time < ?1)",
            )
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query("DELETE FROM resumable_uploads WHERE expire_time < ?1")
                .bind(micros(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
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
            .record_appended("live".into(), 8 << 20, 0, vec![[7; 32], [8; 32]])
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

    /// (rows written, bytes of digests written) by one call, via triggers on both tables.
    async fn writes_of<F: std::future::Future<Output = ()>>(
        store: &SqliteStore,
        f: F,
    ) -> (i64, i64) {
        sqlx::query("DELETE FROM write_log")
            .execute(&store.pool)
            .await
            .unwrap();
        f.await;
        sqlx::query_as("SELECT count(*), coalesce(sum(bytes), 0) FROM write_log")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn recording_a_piece_writes_the_same_whatever_the_upload_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("c.db"), Sealer::generate().0)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE write_log (tbl TEXT, bytes INTEGER); \
             CREATE TRIGGER log_upload AFTER UPDATE ON resumable_uploads BEGIN \
               INSERT INTO write_log VALUES ('uploads', length(NEW.block_digests) + coalesce(length(NEW.pending_digests), 0)); END; \
             CREATE TRIGGER log_block AFTER INSERT ON resumable_upload_blocks BEGIN \
               INSERT INTO write_log VALUES ('blocks', length(NEW.sha256)); END;",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        store
            .insert_upload(upload("big", time::Duration::days(1)))
            .await
            .unwrap();
        let mut expected = Vec::new();
        for piece in 0..50u8 {
            let digests = vec![[piece; 32], [piece.wrapping_add(100); 32]];
            expected.extend(digests.clone());
            let written = writes_of(&store, async {
                store
                    .record_appended(
                        "big".into(),
                        (u64::from(piece) + 1) * (8 << 20),
                        u64::from(piece) * 2,
                        digests,
                    )
                    .await
                    .unwrap()
            })
            .await;
            // The upload's row (no digests in it) and the piece's two block rows.
            assert_eq!(written, (3, 64), "piece {piece}");
        }
        let got = store.get_upload("big".into()).await.unwrap().unwrap();
        assert_eq!(got.persisted_size, 50 * (8 << 20));
        assert_eq!(
            got.block_digests, expected,
            "blocks come back in file order"
        );
        store.delete_upload("big".into()).await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM resumable_upload_blocks")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0, "a deleted upload leaves no blocks");
    }

    #[tokio::test]
    async fn the_migration_moves_blocks_of_uploads_in_progress_into_rows() {
        let dir = tempfile::tempdir().unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("m.db"))
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let migrator = sqlx::migrate!("./migrations");
        let (before, after): (Vec<_>, Vec<_>) =
            migrator.iter().partition(|m| m.version < 20261201000002);
        for m in before {
            sqlx::raw_sql(&m.sql).execute(&pool).await.unwrap();
        }
        let legacy: Vec<u8> = [[1u8; 32], [2; 32], [3; 32]].concat();
        sqlx::query(
            "INSERT INTO resumable_uploads (id_hash, connection_id, target, session_id, \
             persisted_size, block_digests, create_time, expire_time) \
             VALUES ('k', 'c', '{}', 's', ?1, ?2, 0, 0), ('empty', 'c', '{}', 's', 0, x'', 0, 0)",
        )
        .bind(12i64 << 20)
        .bind(legacy)
        .execute(&pool)
        .await
        .unwrap();
        for m in after.iter().filter(|m| m.version == 20261201000002) {
            sqlx::raw_sql(&m.sql).execute(&pool).await.unwrap();
        }
        let rows: Vec<(String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT upload, idx, sha256 FROM resumable_upload_blocks ORDER BY upload, idx",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            vec![
                ("k".into(), 0, vec![1; 32]),
                ("k".into(), 1, vec![2; 32]),
                ("k".into(), 2, vec![3; 32]),
            ]
        );
        let blob: Vec<u8> =
            sqlx::query_scalar("SELECT block_digests FROM resumable_uploads WHERE id_hash = 'k'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(blob.is_empty());
    }
}
