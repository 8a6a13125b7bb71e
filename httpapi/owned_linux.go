package httpapi

// canOwnDescriptors: the engine polls sockets itself (epoll), so a
// transport may hold a bare descriptor instead of a net.Conn.
const canOwnDescriptors = true
