-- Word count as SQL: a text file split into words (Flink's lateral table
-- function join), cleaned, counted, the ten most frequent kept.
--   faro sql -f examples/sql/wordcount.sql
-- It plans onto the same job as examples/wordcount.yaml.
CREATE TABLE lines (line STRING) WITH (
  'connector' = 'files',
  'path' = 'examples/data/dataflow.txt',
  'format' = 'text'
);

SELECT lower(trim(word)) AS word, COUNT(*) AS n
FROM lines CROSS JOIN LATERAL TABLE(words(line)) AS t(word)
GROUP BY lower(trim(word))
ORDER BY n DESC, word
LIMIT 10;
