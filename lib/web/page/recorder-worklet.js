// AudioWorklet processor of the page's microphone recorder: copies every input block (first
// channel) to the main thread, which concatenates them into one PCM clip.
class PcmRecorder extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length > 0) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor('pcm-recorder', PcmRecorder);
