-- A message's safe HTML rendering is made once, by the sending process, and stored: history
-- and events read it instead of rendering every message on every read. Rows sent before
-- this have none; readers render theirs (message_json(), Message decoding).
ALTER TABLE messages ADD COLUMN html text;
