"""Media: codec probing today; profiles, decode, encode and transcode as they are built."""
