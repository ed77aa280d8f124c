-- A message's attachments as the API shows them (the Attachment object), ordered as sent.
CREATE OR REPLACE FUNCTION message_attachments(p_message uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', a.id, 'fileName', a.file_name, 'mediaType', a.media_type, 'size', a.size,
               'sha256', a.sha256, 'width', a.width, 'height', a.height,
               'url', '/v1/attachments/' || a.id)) ORDER BY a.position), '[]'::jsonb)
    FROM attachments a WHERE a.message_id = p_message
$$;
