"""Azure cost exports: discovery in the provider's bucket, conversion to Parquet."""
