// The "Inbox" page.
import { ready, showVersion } from "/assets/common.js";

showVersion().finally(ready);
