TMOUT=300
readonly TMOUT
export TMOUT
