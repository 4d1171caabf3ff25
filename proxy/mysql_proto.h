/* mysql_proto.h - MySQL client/server protocol constants. */
#ifndef DDLP_MYSQL_PROTO_H
#define DDLP_MYSQL_PROTO_H

#define MYSQL_HEADER_LEN 4
#define MYSQL_MAX_PAYLOAD 0xffffffu      /* a payload this long continues in the next packet */

/* capability flags */
#define CLIENT_LONG_PASSWORD        0x00000001u
#define CLIENT_FOUND_ROWS           0x00000002u
#define CLIENT_LONG_FLAG            0x00000004u
#define CLIENT_CONNECT_WITH_DB      0x00000008u
#define CLIENT_NO_SCHEMA            0x00000010u
#define CLIENT_COMPRESS             0x00000020u
#define CLIENT_ODBC                 0x00000040u
#define CLIENT_LOCAL_FILES          0x00000080u
#define CLIENT_IGNORE_SPACE         0x00000100u
#define CLIENT_PROTOCOL_41          0x00000200u
#define CLIENT_INTERACTIVE          0x00000400u
#define CLIENT_SSL                  0x00000800u
#define CLIENT_TRANSACTIONS         0x00002000u
#define CLIENT_SECURE_CONNECTION    0x00008000u
#define CLIENT_MULTI_STATEMENTS     0x00010000u
#define CLIENT_MULTI_RESULTS        0x00020000u
#define CLIENT_PS_MULTI_RESULTS     0x00040000u
#define CLIENT_PLUGIN_AUTH          0x00080000u
#define CLIENT_CONNECT_ATTRS        0x00100000u
#define CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA 0x00200000u
#define CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS   0x00400000u
#define CLIENT_SESSION_TRACK        0x00800000u
#define CLIENT_DEPRECATE_EOF        0x01000000u
#define CLIENT_OPTIONAL_RESULTSET_METADATA 0x02000000u
#define CLIENT_ZSTD_COMPRESSION     0x04000000u
#define CLIENT_QUERY_ATTRIBUTES     0x08000000u
#define CLIENT_SSL_VERIFY_SERVER_CERT 0x40000000u

/* What the proxy does not implement: cleared in both directions. Optional
 * result-set metadata would make column definitions optional, which the
 * response tracker does not follow. */
#define PROXY_UNSUPPORTED_CAPS (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION | \
                                CLIENT_QUERY_ATTRIBUTES | CLIENT_OPTIONAL_RESULTSET_METADATA)

/* server status flags */
#define SERVER_STATUS_IN_TRANS          0x0001u
#define SERVER_STATUS_AUTOCOMMIT        0x0002u
#define SERVER_MORE_RESULTS_EXISTS      0x0008u
#define SERVER_STATUS_CURSOR_EXISTS     0x0040u
#define SERVER_STATUS_LAST_ROW_SENT     0x0080u
#define SERVER_PS_OUT_PARAMS            0x1000u

/* commands */
enum mysql_command {
    COM_SLEEP = 0x00, COM_QUIT = 0x01, COM_INIT_DB = 0x02, COM_QUERY = 0x03,
    COM_FIELD_LIST = 0x04, COM_CREATE_DB = 0x05, COM_DROP_DB = 0x06, COM_REFRESH = 0x07,
    COM_SHUTDOWN = 0x08, COM_STATISTICS = 0x09, COM_PROCESS_INFO = 0x0a, COM_CONNECT = 0x0b,
    COM_PROCESS_KILL = 0x0c, COM_DEBUG = 0x0d, COM_PING = 0x0e, COM_TIME = 0x0f,
    COM_DELAYED_INSERT = 0x10, COM_CHANGE_USER = 0x11, COM_BINLOG_DUMP = 0x12,
    COM_TABLE_DUMP = 0x13, COM_CONNECT_OUT = 0x14, COM_REGISTER_SLAVE = 0x15,
    COM_STMT_PREPARE = 0x16, COM_STMT_EXECUTE = 0x17, COM_STMT_SEND_LONG_DATA = 0x18,
    COM_STMT_CLOSE = 0x19, COM_STMT_RESET = 0x1a, COM_SET_OPTION = 0x1b,
    COM_STMT_FETCH = 0x1c, COM_DAEMON = 0x1d, COM_BINLOG_DUMP_GTID = 0x1e,
    COM_RESET_CONNECTION = 0x1f, COM_STMT_BULK_EXECUTE = 0xfa,
};

/* first byte of a response packet */
#define PKT_OK        0x00
#define PKT_AUTH_MORE 0x01
#define PKT_INFILE    0xfb
#define PKT_EOF       0xfe
#define PKT_ERR       0xff

/* Error codes of proxy-made ERR packets. Server-range codes only: libmariadb
 * turns any 2xxx (client-range) code a server sends into 2027 "Received
 * malformed packet" and hides the message. The backend errors use codes of
 * their own (like ProxySQL's 9001) with the SQLSTATEs of 2003 / 2013. */
#define ER_CON_COUNT_ERROR      1040   /* Too many connections */
#define ER_HANDSHAKE_ERROR      1043   /* Bad handshake */
#define ER_SERVER_SHUTDOWN      1053
#define ER_SECURE_TRANSPORT     3159   /* secure transport required */
#define DDLP_ER_BACKEND_UNREACHABLE 9001   /* like 2003: cannot connect to the backend */
#define DDLP_ER_BACKEND_LOST        9002   /* like 2013: lost the backend during a command */
#define DDLP_ER_BACKEND_PROTOCOL    9003   /* the backend sent something impossible */
#define SQLSTATE_CANNOT_CONNECT "08001"
#define SQLSTATE_LINK_FAILURE   "08S01"
#define ER_NET_PACKET_TOO_LARGE 1153

#endif
