-- reads: _notice_rows, _notice_texts
-- writes: _notice_new
-- params: batch_mi, key_cols, kind
-- The {{ kind }} rows of _notice_rows with their text, into _notice_new (rules.md §5).
-- _notice_texts (registered by pipelines/notify.py): one row per distinct combination of the
-- inputs the template reads ({{ key_cols | join(', ') }}), with its rendered _text and _segments.
-- Phone and segments are kept for SMS only. issued_mi = batch_mi, the batch it goes out with.
INSERT INTO _notice_new
SELECT r._notice_id, r.id_no, r.entry_id, r.kind, CAST(r.reference_mi AS INTEGER),
       CAST({{ batch_mi }} AS INTEGER), r.office_code, r._channel,
       CASE WHEN r._channel = 'SMS' THEN r._mobile END, t._text,
       CASE WHEN r._channel = 'SMS' THEN t._segments END, r._offline_reason
FROM _notice_rows r
JOIN _notice_texts t
  ON {% for c in key_cols %}r.{{ c | sql_ident }} IS NOT DISTINCT FROM t.{{ c | sql_ident }}{{ "\n AND " if not loop.last }}{% endfor %}
WHERE r.kind = {{ kind | sql_str }}
