{
  "targets": [
    {
      "target_name": "tcp_tuning",
      "sources": ["native/tcp_tuning.c"]
    }
  ]
}
