"""The stream between the API and the consumer: an embedded SQLite log or AWS Kinesis."""
