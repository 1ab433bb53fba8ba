//! The DownloadFiles stream turned into per-file events, with its order and offsets checked.
//! Pure: it sees messages, not gRPC, files or the terminal, so every odd sequence a server
//! could send is tested here.
//!
//! The stream is, per file: a header, chunks at consecutive offsets, and an end (or an error
//! that ends that file). Each file of the call gets exactly one outcome: an [`Event::End`], an
//! [`Event::Refused`] or an [`Event::Failed`], or none when the caller
//! [abandons](Decoder::abandon) it for a local reason it reports itself.

use dropbox_connector_proto::v1::download_files_response::Message;
use dropbox_connector_proto::v1::{ErrorReason, ItemError, ItemMetadata};

use crate::reason::LocalReason;

/// How the stream names a file of the call.
#[derive(Debug, Clone, Default)]
pub struct FileKey {
    pub path_lower: String,
    /// `path_display`, lower-cased (errors name files by the path they were asked by).
    pub display_lower: String,
    pub id: String,
}

impl FileKey {
    pub fn of(item: &ItemMetadata) -> Self {
        FileKey {
            path_lower: item.path_lower.clone(),
            display_lower: item.path_display.to_lowercase(),
            id: item.id.clone(),
        }
    }
}

/// What the stream says about the files of the call, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// File `index` begins at byte `offset`; `modified_time` is the time to give the
    /// written file (sent with keep_modified_date).
    Start {
        index: usize,
        offset: u64,
        modified_time: Option<prost_types::Timestamp>,
    },
    /// The next bytes of file `index`, at the offset its previous bytes ended.
    Data { index: usize, data: Vec<u8> },
    /// File `index` is complete; the server's content_hash to verify it by.
    End { index: usize, content_hash: String },
    /// The server's error for file `index`: it will not complete in this call.
    Refused { index: usize, error: ItemError },
    /// The server's overwrite decision keeps the local file `index`: nothing comes for it.
    Skipped { index: usize, reason: String },
    /// The stream went wrong for file `index`: it will not complete in this call.
    Failed { index: usize, failure: Failure },
}

/// How the stream went wrong for a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Another file's header came before this one's end.
    Interrupted,
    /// A later file's header came first: nothing more will come for this one.
    Skipped,
    /// The header starts at the wrong byte.
    StartOffset { got: u64, expected: u64 },
    /// A chunk does not start where the bytes before it ended.
    ChunkOffset { got: u64, expected: u64 },
    /// The stream ended in the middle of this file; `cause` is the call's error, if any.
    EndedMidFile { cause: Option<String> },
    /// The stream ended without a word about this file.
    NothingSent { cause: Option<String> },
}

impl Failure {
    /// dbxc's reason for it.
    pub fn reason(&self) -> LocalReason {
        match self {
            Failure::Interrupted => LocalReason::Contract(ErrorReason::StreamOutOfOrder),
            Failure::StartOffset { .. } | Failure::ChunkOffset { .. } => {
                LocalReason::Contract(ErrorReason::ChunkOffsetMismatch)
            }
            Failure::Skipped | Failure::NothingSent { .. } => LocalReason::NoResult,
            Failure::EndedMidFile { .. } => LocalReason::Incomplete,
        }
    }

    /// What a user reads.
    pub fn message(&self) -> String {
        match self {
            Failure::Interrupted => "the server started another file before ending this one".into(),
            Failure::Skipped => "the server sent no data for this file".into(),
            Failure::StartOffset { got, expected } => {
                format!("the server started at byte {got} instead of {expected}")
            }
            Failure::ChunkOffset { got, expected } => {
                format!("chunk at offset {got} where {expected} was expected")
            }
            Failure::EndedMidFile { cause: Some(c) } => c.clone(),
            Failure::EndedMidFile { cause: None } => {
                "the stream ended in the middle of this file".into()
            }
            Failure::NothingSent { cause: Some(c) } => format!("not downloaded: {c}"),
            Failure::NothingSent { cause: None } => "the server sent nothing for this file".into(),
        }
    }
}

/// The file being received.
#[derive(Debug, Clone, Copy)]
struct Current {
    index: usize,
    next_offset: u64,
}

/// The decoder of one DownloadFiles call.
#[derive(Debug)]
pub struct Decoder {
    files: Vec<FileKey>,
    /// Where the first header must start (a resumed file's range); later ones start at 0.
    first_offset: Option<u64>,
    /// The first file a header or an error can still be for.
    next: usize,
    current: Option<Current>,
    settled: Vec<bool>,
}

impl Decoder {
    /// A decoder for a call asking for `files`, the first starting at `first_offset`.
    pub fn new(files: Vec<FileKey>, first_offset: u64) -> Self {
        let settled = vec![false; files.len()];
        Decoder {
            files,
            first_offset: Some(first_offset),
            next: 0,
            current: None,
            settled,
        }
    }

    /// The events one message means.
    pub fn push(&mut self, message: Message) -> Vec<Event> {
        let mut events = Vec::new();
        match message {
            Message::Header(header) => {
                if let Some(c) = self.current.take() {
                    self.fail(c.index, Failure::Interrupted, &mut events);
                }
                let key = header
                    .metadata
                    .as_ref()
                    .map(|m| (m.path_lower.as_str(), m.id.as_str()));
                let Some(index) = self.header_index(key) else {
                    return events;
                };
                for skipped in self.next..index {
                    self.fail(skipped, Failure::Skipped, &mut events);
                }
                self.next = index + 1;
                let expected = self.first_offset.take().unwrap_or(0);
                if self.settled[index] {
                    // A second header for a file already done: its bytes have no home.
                } else if header.offset != expected {
                    let failure = Failure::StartOffset {
                        got: header.offset,
                        expected,
                    };
                    self.fail(index, failure, &mut events);
                } else {
                    self.current = Some(Current {
                        index,
                        next_offset: header.offset,
                    });
                    events.push(Event::Start {
                        index,
                        offset: header.offset,
                        modified_time: header.modified_time,
                    });
                }
            }
            Message::Chunk(chunk) => {
                // Bytes of no file (before any header, or of an abandoned one) go nowhere.
                let Some(c) = self.current.as_mut() else {
                    return events;
                };
                if chunk.offset != c.next_offset {
                    let (index, expected) = (c.index, c.next_offset);
                    self.current = None;
                    let failure = Failure::ChunkOffset {
                        got: chunk.offset,
                        expected,
                    };
                    self.fail(index, failure, &mut events);
                } else {
                    c.next_offset += chunk.data.len() as u64;
                    events.push(Event::Data {
                        index: c.index,
                        data: chunk.data,
                    });
                }
            }
            Message::End(end) => {
                if let Some(c) = self.current.take() {
                    self.settled[c.index] = true;
                    events.push(Event::End {
                        index: c.index,
                        content_hash: end.content_hash,
                    });
                }
            }
            Message::Skipped(skipped) => {
                if let Some(c) = self.current.take() {
                    self.fail(c.index, Failure::Interrupted, &mut events);
                }
                let skipped = skipped.skipped.unwrap_or_default();
                let key = skipped
                    .existing
                    .as_ref()
                    .map(|m| (m.path_lower.as_str(), m.id.as_str()));
                let Some(index) = self.header_index(key) else {
                    return events;
                };
                for earlier in self.next..index {
                    self.fail(earlier, Failure::Skipped, &mut events);
                }
                self.next = index + 1;
                if self.settle(index) {
                    events.push(Event::Skipped {
                        index,
                        reason: skipped.reason,
                    });
                }
            }
            Message::Error(error) => {
                let index = match self.current.take() {
                    Some(c) => c.index,
                    None => {
                        let Some(index) = self.error_index(&error.path) else {
                            return events;
                        };
                        self.next = index + 1;
                        index
                    }
                };
                if self.settle(index) {
                    events.push(Event::Refused {
                        index,
                        error: error.error.unwrap_or_default(),
                    });
                }
            }
        }
        events
    }

    /// The stream is over (`cause`: the call's error, if it ended with one): the file in
    /// progress and every file not heard of fail.
    pub fn finish(&mut self, cause: Option<String>) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some(c) = self.current.take() {
            let failure = Failure::EndedMidFile {
                cause: cause.clone(),
            };
            self.fail(c.index, failure, &mut events);
        }
        for index in 0..self.files.len() {
            let failure = Failure::NothingSent {
                cause: cause.clone(),
            };
            self.fail(index, failure, &mut events);
        }
        events
    }

    /// The caller gave up the file in progress for a reason of its own (it could not be
    /// written); its remaining messages are ignored and it gets no event.
    pub fn abandon(&mut self) {
        if let Some(c) = self.current.take() {
            self.settled[c.index] = true;
        }
    }

    /// Which file a header is for: by path_lower or id from the next file on, else the next
    /// file (the last one when all were seen). `None` for a call of no files.
    fn header_index(&self, key: Option<(&str, &str)>) -> Option<usize> {
        let from = self.next.min(self.files.len().checked_sub(1)?);
        let found = key.and_then(|(lower, id)| {
            self.files[from..].iter().position(|f| {
                (!lower.is_empty() && f.path_lower == lower) || (!id.is_empty() && f.id == id)
            })
        });
        Some(from + found.unwrap_or(0))
    }

    /// Which file an error outside a file is for: by path from the next file on, else the
    /// next file; `None` when every file was seen.
    fn error_index(&self, path: &str) -> Option<usize> {
        let lower = path.to_lowercase();
        let from = self.next.min(self.files.len());
        let found = self.files[from..]
            .iter()
            .position(|f| f.path_lower == lower || f.display_lower == lower);
        let index = from + found.unwrap_or(0);
        (index < self.files.len()).then_some(index)
    }

    /// Fails a file once: a file already settled gets no second outcome.
    fn fail(&mut self, index: usize, failure: Failure, events: &mut Vec<Event>) {
        if self.settle(index) {
            events.push(Event::Failed { index, failure });
        }
    }

    /// Marks `index` settled; false when it already was.
    fn settle(&mut self, index: usize) -> bool {
        !std::mem::replace(&mut self.settled[index], true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropbox_connector_proto::v1::{DataChunk, DownloadEnd, DownloadError, DownloadHeader};

    fn key(name: &str) -> FileKey {
        FileKey {
            path_lower: format!("/d/{name}"),
            display_lower: format!("/d/{name}"),
            id: format!("id:{name}"),
        }
    }

    fn decoder(names: &[&str]) -> Decoder {
        Decoder::new(names.iter().map(|n| key(n)).collect(), 0)
    }

    fn header(name: &str, offset: u64) -> Message {
        Message::Header(DownloadHeader {
            metadata: Some(ItemMetadata {
                path_lower: format!("/d/{name}"),
                id: format!("id:{name}"),
                ..Default::default()
            }),
            offset,
            length: 0,
            ..Default::default()
        })
    }

    fn chunk(offset: u64, data: &[u8]) -> Message {
        Message::Chunk(DataChunk {
            offset,
            data: data.to_vec(),
        })
    }

    fn end(hash: &str) -> Message {
        Message::End(DownloadEnd {
            content_hash: hash.into(),
            bytes_sent: 0,
        })
    }

    fn error(path: &str, reason: &str) -> Message {
        Message::Error(DownloadError {
            path: path.into(),
            error: Some(ItemError {
                code: tonic::Code::NotFound as i32,
                reason: reason.into(),
                message: "gone".into(),
                metadata: Default::default(),
            }),
        })
    }

    /// Feeds `messages`, then ends the stream cleanly.
    fn run(mut d: Decoder, messages: Vec<Message>) -> Vec<Event> {
        let mut events: Vec<Event> = messages.into_iter().flat_map(|m| d.push(m)).collect();
        events.extend(d.finish(None));
        events
    }

    fn failed(index: usize, failure: Failure) -> Event {
        Event::Failed { index, failure }
    }

    fn started(index: usize, offset: u64) -> Event {
        Event::Start {
            index,
            offset,
            modified_time: None,
        }
    }

    fn data(index: usize, bytes: &[u8]) -> Event {
        Event::Data {
            index,
            data: bytes.to_vec(),
        }
    }

    fn ended(index: usize, hash: &str) -> Event {
        Event::End {
            index,
            content_hash: hash.into(),
        }
    }

    #[test]
    fn a_well_formed_stream_gives_start_data_end_per_file() {
        let events = run(
            decoder(&["a", "b"]),
            vec![
                header("a", 0),
                chunk(0, b"he"),
                chunk(2, b"llo"),
                end("h1"),
                header("b", 0),
                end("h2"),
            ],
        );
        assert_eq!(
            events,
            vec![
                started(0, 0),
                data(0, b"he"),
                data(0, b"llo"),
                ended(0, "h1"),
                started(1, 0),
                ended(1, "h2"),
            ]
        );
    }

    #[test]
    fn out_of_order_header_fails_the_open_file_and_skipped_ones() {
        // "c" starts while "a" is open, and "b" never came.
        let events = run(
            decoder(&["a", "b", "c"]),
            vec![header("a", 0), chunk(0, b"x"), header("c", 0), end("h")],
        );
        assert_eq!(
            events[2..],
            [
                failed(0, Failure::Interrupted),
                failed(1, Failure::Skipped),
                started(2, 0),
                ended(2, "h"),
            ]
        );
        assert_eq!(
            Failure::Interrupted.reason().as_str(),
            "STREAM_OUT_OF_ORDER"
        );
        assert_eq!(
            Failure::Interrupted.message(),
            "the server started another file before ending this one"
        );
        assert_eq!(Failure::Skipped.reason(), LocalReason::NoResult);
    }

    #[test]
    fn missing_end_fails_the_file_when_the_stream_ends() {
        let events = run(decoder(&["a"]), vec![header("a", 0), chunk(0, b"abc")]);
        assert_eq!(
            events.last().unwrap(),
            &failed(0, Failure::EndedMidFile { cause: None })
        );
        assert_eq!(events.len(), 3);
        let f = Failure::EndedMidFile { cause: None };
        assert_eq!(f.reason(), LocalReason::Incomplete);
        assert_eq!(f.message(), "the stream ended in the middle of this file");

        // Ended by a call error: that error is the message.
        let mut d = decoder(&["a", "b"]);
        d.push(header("a", 0));
        let events = d.finish(Some("UNAVAILABLE: gone".into()));
        assert_eq!(
            events,
            vec![
                failed(
                    0,
                    Failure::EndedMidFile {
                        cause: Some("UNAVAILABLE: gone".into())
                    }
                ),
                failed(
                    1,
                    Failure::NothingSent {
                        cause: Some("UNAVAILABLE: gone".into())
                    }
                ),
            ]
        );
        assert_eq!(
            Failure::NothingSent {
                cause: Some("UNAVAILABLE: gone".into())
            }
            .message(),
            "not downloaded: UNAVAILABLE: gone"
        );
    }

    #[test]
    fn offset_gap_fails_the_file_and_its_later_bytes_go_nowhere() {
        let events = run(
            decoder(&["a", "b"]),
            vec![
                header("a", 0),
                chunk(0, b"abc"),
                chunk(5, b"fg"),
                chunk(7, b"h"),
                end("h"),
                header("b", 0),
                end("h2"),
            ],
        );
        assert_eq!(
            events,
            vec![
                started(0, 0),
                data(0, b"abc"),
                failed(
                    0,
                    Failure::ChunkOffset {
                        got: 5,
                        expected: 3
                    }
                ),
                started(1, 0),
                ended(1, "h2"),
            ]
        );
        let f = Failure::ChunkOffset {
            got: 5,
            expected: 3,
        };
        assert_eq!(f.reason().as_str(), "CHUNK_OFFSET_MISMATCH");
        assert_eq!(f.message(), "chunk at offset 5 where 3 was expected");
    }

    #[test]
    fn a_repeated_chunk_is_an_offset_error_too() {
        let events = run(
            decoder(&["a"]),
            vec![header("a", 0), chunk(0, b"ab"), chunk(0, b"ab")],
        );
        assert_eq!(
            events[2],
            failed(
                0,
                Failure::ChunkOffset {
                    got: 0,
                    expected: 2
                }
            )
        );
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn error_mid_file_fails_that_file_and_the_stream_goes_on() {
        let events = run(
            decoder(&["a", "b"]),
            vec![
                header("a", 0),
                chunk(0, b"ab"),
                error("/d/a", "PATH_NOT_FOUND"),
                header("b", 0),
                end("h"),
            ],
        );
        let Event::Refused { index: 0, error } = &events[2] else {
            panic!("{events:?}");
        };
        assert_eq!(error.reason, "PATH_NOT_FOUND");
        assert_eq!(events.len(), 5);
    }

    #[test]
    fn an_error_outside_a_file_names_it_by_path_and_skips_nothing_before_it() {
        // The error is for "b"; "a" was never mentioned and is reported at the end.
        let events = run(decoder(&["a", "b"]), vec![error("/D/B", "PATH_NOT_FOUND")]);
        assert!(matches!(&events[0], Event::Refused { index: 1, .. }));
        assert_eq!(events[1], failed(0, Failure::NothingSent { cause: None }));
        assert_eq!(events.len(), 2);
        // An unknown path is the next file's.
        let events = run(decoder(&["a"]), vec![error("/elsewhere", "PATH_NOT_FOUND")]);
        assert!(matches!(&events[..], [Event::Refused { index: 0, .. }]));
    }

    #[test]
    fn a_skip_settles_its_file_by_metadata_and_the_stream_goes_on() {
        use dropbox_connector_proto::v1::{DownloadSkipped, Skipped};
        let skip = |name: &str| {
            Message::Skipped(DownloadSkipped {
                path: format!("/D/{name}"),
                skipped: Some(Skipped {
                    reason: "kept".into(),
                    existing: Some(ItemMetadata {
                        path_lower: format!("/d/{name}"),
                        id: format!("id:{name}"),
                        ..Default::default()
                    }),
                }),
            })
        };
        let events = run(
            decoder(&["a", "b", "c"]),
            vec![skip("b"), header("c", 0), chunk(0, b"x"), end("h")],
        );
        assert_eq!(
            events,
            vec![
                failed(0, Failure::Skipped),
                Event::Skipped {
                    index: 1,
                    reason: "kept".into()
                },
                started(2, 0),
                data(2, b"x"),
                ended(2, "h"),
            ]
        );
    }

    #[test]
    fn a_header_at_the_wrong_start_fails_the_file() {
        let mut d = Decoder::new(vec![key("a")], 100);
        assert_eq!(
            d.push(header("a", 0)),
            vec![failed(
                0,
                Failure::StartOffset {
                    got: 0,
                    expected: 100
                }
            )]
        );
        assert!(d.push(chunk(0, b"x")).is_empty());
        assert!(d.finish(None).is_empty());

        let mut resumed = Decoder::new(vec![key("a")], 100);
        assert_eq!(resumed.push(header("a", 100)), vec![started(0, 100)]);
        assert_eq!(resumed.push(chunk(100, b"x")), vec![data(0, b"x")]);
    }

    #[test]
    fn chunks_and_ends_of_no_file_go_nowhere() {
        let mut d = decoder(&["a"]);
        assert!(d.push(chunk(0, b"x")).is_empty());
        assert!(d.push(end("h")).is_empty());
        assert_eq!(
            d.finish(None),
            vec![failed(0, Failure::NothingSent { cause: None })]
        );
    }

    #[test]
    fn an_abandoned_file_gets_no_event_and_its_bytes_are_dropped() {
        let mut d = decoder(&["a", "b"]);
        d.push(header("a", 0));
        d.abandon();
        assert!(d.push(chunk(0, b"x")).is_empty());
        assert!(d.push(end("h")).is_empty());
        assert_eq!(d.push(header("b", 0)), vec![started(1, 0)]);
        assert_eq!(
            d.finish(None),
            vec![failed(1, Failure::EndedMidFile { cause: None })]
        );
    }

    #[test]
    fn each_file_gets_one_outcome() {
        // A second header for the last, finished file is ignored, not a second download.
        let events = run(
            decoder(&["a"]),
            vec![
                header("a", 0),
                end("h"),
                header("a", 0),
                chunk(0, b"x"),
                end("h"),
            ],
        );
        assert_eq!(events.len(), 2, "{events:?}");
        // An error for a file already failed adds nothing.
        let events = run(
            decoder(&["a"]),
            vec![
                header("a", 0),
                chunk(9, b"x"),
                error("/d/a", "PATH_NOT_FOUND"),
            ],
        );
        assert_eq!(events.len(), 2, "{events:?}");
        // A call of no files: nothing to say.
        assert!(run(decoder(&[]), vec![header("a", 0), chunk(0, b"x")]).is_empty());
    }
}
