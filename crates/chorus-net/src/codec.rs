//! A request-response codec of single length-prefixed frames with a bound
//! in each direction, checked before any byte of the body is buffered: the
//! framing of `docs/PROTOCOL.md` 14.2.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;

/// Frames are a 4-byte big-endian length and that many bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameCodec {
    max_request: usize,
    max_response: usize,
}

impl FrameCodec {
    pub(crate) fn new(max_request: usize, max_response: usize) -> Self {
        FrameCodec { max_request, max_response }
    }
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, data: &[u8], max: usize) -> io::Result<()> {
    if data.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes is over the limit of {max}", data.len()),
        ));
    }
    let len = u32::try_from(data.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(data).await?;
    io.flush().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &req, self.max_request).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;

    #[test]
    fn frames_round_trip_and_oversize_is_refused_before_reading() {
        futures::executor::block_on(async {
            let p = StreamProtocol::new("/t/1");
            let mut c = FrameCodec::new(8, 16);
            let mut buf = Cursor::new(Vec::new());
            c.write_request(&p, &mut buf, b"hello".to_vec()).await.unwrap();
            let mut rd = Cursor::new(buf.into_inner());
            assert_eq!(c.read_request(&p, &mut rd).await.unwrap(), b"hello");
            // A length prefix over the bound fails without allocating the body.
            let mut huge = Cursor::new(u32::MAX.to_be_bytes().to_vec());
            assert!(c.read_request(&p, &mut huge).await.is_err());
            let mut out = Cursor::new(Vec::new());
            assert!(c.write_request(&p, &mut out, vec![0; 9]).await.is_err());
        });
    }
}
