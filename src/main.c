/* main.c — placeholder entry, replaced by the command dispatcher. */
int main(void) { return 0; }
