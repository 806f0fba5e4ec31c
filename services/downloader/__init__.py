"""The downloader service: report discovery, download and CSV to Parquet conversion."""
