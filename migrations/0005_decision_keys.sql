-- Most decisions carry no Idempotency-Key: only keyed ones need the unique
-- index, and the gate's hot path stops paying an index entry for the others.
ALTER TABLE decisions DROP CONSTRAINT decisions_token_id_idempotency_key_key;
CREATE UNIQUE INDEX decisions_idempotency ON decisions (token_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
