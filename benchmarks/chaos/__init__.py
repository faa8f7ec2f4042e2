"""`make chaos`: money moves through both APIs while workers and connections die (see
`__main__`)."""
